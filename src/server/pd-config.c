/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>
#include <sys/un.h>

#include "pd-config.h"
#include "postern-core.h"

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (pd-config-error-quark, pd_config_error)
// clang-format on

typedef struct
{
  const char *key;
  gsize offset;
  gboolean wide; /* guint64 rather than guint */
  guint64 min;
  guint64 max;
} LimitKey;

/* The [limits] keys, their field and the range we accept. The minimums
 * are the RFC 5321 ones where it sets one. */
static const LimitKey limit_keys[] = {
  { "command_line_length", G_STRUCT_OFFSET (PdLimits, command_line_length), FALSE, 512, 65536 },
  { "text_line_length", G_STRUCT_OFFSET (PdLimits, text_line_length), FALSE, 1000, 1000000 },
  { "message_size", G_STRUCT_OFFSET (PdLimits, message_size), TRUE, 1024, G_GUINT64_CONSTANT (1) << 30 },
  { "recipients", G_STRUCT_OFFSET (PdLimits, recipients), FALSE, 1, 100000 },
  { "sessions_per_client", G_STRUCT_OFFSET (PdLimits, sessions_per_client), FALSE, 1, 1000000 },
  { "sessions", G_STRUCT_OFFSET (PdLimits, sessions), FALSE, 1, 1000000 },
  { "idle_timeout", G_STRUCT_OFFSET (PdLimits, idle_timeout), FALSE, 1, 86400 },
  { "data_timeout", G_STRUCT_OFFSET (PdLimits, data_timeout), FALSE, 1, 86400 },
  { "tls_handshake_timeout", G_STRUCT_OFFSET (PdLimits, tls_handshake_timeout), FALSE, 1, 3600 },
  { "errors", G_STRUCT_OFFSET (PdLimits, errors), FALSE, 1, 100000 },
  { "received_headers", G_STRUCT_OFFSET (PdLimits, received_headers), FALSE, 1, 1000 },
  { "header_size", G_STRUCT_OFFSET (PdLimits, header_size), FALSE, 1024, 64 * 1024 * 1024 },
};

static const char *const server_keys[] = { "state_dir", "domains", "hostname", NULL };
static const char *const listen_keys[] = { "listen", NULL };
static const char *const tls_keys[] = { "certificate", "key", NULL };

PdConfig *
pd_config_new_default (void)
{
  PdConfig *config = g_new0 (PdConfig, 1);

  config->keyfile = g_key_file_new ();
  config->state_dir = g_build_filename (LOCALSTATEDIR, "lib", "postern", NULL);
  config->domains = g_new0 (char *, 1);
  config->hostname = g_strdup (g_get_host_name ());
  config->smtp_listen = g_strsplit ("127.0.0.1:2525", ",", -1);
  config->lmtp_listen = g_new0 (char *, 1);
  pd_limits_init (&config->limits);
  return config;
}

void
pd_config_free (PdConfig *config)
{
  if (config == NULL)
    return;
  g_clear_pointer (&config->keyfile, g_key_file_unref);
  g_free (config->path);
  g_free (config->state_dir);
  g_strfreev (config->domains);
  g_free (config->hostname);
  g_strfreev (config->smtp_listen);
  g_strfreev (config->lmtp_listen);
  g_free (config->tls_certificate);
  g_free (config->tls_key);
  g_free (config);
}

static gboolean
check_known_keys (GKeyFile *keyfile,
                  const char *group,
                  const char *const *known,
                  GError **error)
{
  g_auto (GStrv) keys = NULL;

  if (!g_key_file_has_group (keyfile, group))
    return TRUE;
  keys = g_key_file_get_keys (keyfile, group, NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      if (!g_strv_contains (known, keys[i]))
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_UNKNOWN,
                       "[%s] has no key \"%s\"", group, keys[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* sun_path less its terminating NUL. */
#define UNIX_PATH_MAX_LENGTH (sizeof (((struct sockaddr_un *)NULL)->sun_path) - 1)

/* The groups posternd reads: [api] and [delivery] are read by their own
 * parts, the rest here. A misspelt group would otherwise drop every
 * setting in it without a word. */
static const char *const known_groups[] = { "server", "smtp", "lmtp", "tls", "limits", "api", "delivery", NULL };

static gboolean
check_known_groups (GKeyFile *keyfile,
                    GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups != NULL && groups[i] != NULL; i++)
    {
      if (!g_strv_contains (known_groups, groups[i]))
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_UNKNOWN,
                       "there is no group [%s] (known: [server] [smtp] [lmtp] [tls] [limits] [api] [delivery])", groups[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* A string key, or @fallback when absent. */
static gboolean
get_string (GKeyFile *keyfile,
            const char *group,
            const char *key,
            char **inout,
            GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *value = NULL;

  if (!g_key_file_has_key (keyfile, group, key, NULL))
    return TRUE;
  value = g_key_file_get_string (keyfile, group, key, &local_error);
  if (value == NULL)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[%s] %s: %s", group, key, local_error->message);
      return FALSE;
    }
  g_strstrip (value);
  g_free (*inout);
  *inout = *value != '\0' ? g_steal_pointer (&value) : NULL;
  return TRUE;
}

static gboolean
get_list (GKeyFile *keyfile,
          const char *group,
          const char *key,
          GStrv *inout,
          GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) value = NULL;
  g_autoptr (GPtrArray) clean = g_ptr_array_new_with_free_func (g_free);

  if (!g_key_file_has_key (keyfile, group, key, NULL))
    return TRUE;
  value = g_key_file_get_string_list (keyfile, group, key, NULL, &local_error);
  if (value == NULL && local_error != NULL && !g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE))
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[%s] %s: %s", group, key, local_error->message);
      return FALSE;
    }
  for (guint i = 0; value != NULL && value[i] != NULL; i++)
    {
      g_strstrip (value[i]);
      if (*value[i] != '\0')
        g_ptr_array_add (clean, g_strdup (value[i]));
    }
  g_ptr_array_add (clean, NULL);
  g_strfreev (*inout);
  *inout = (GStrv)g_ptr_array_free (g_steal_pointer (&clean), FALSE);
  return TRUE;
}

static gboolean
load_limits (PdConfig *config,
             GError **error)
{
  g_autoptr (GPtrArray) known = g_ptr_array_new ();

  for (guint i = 0; i < G_N_ELEMENTS (limit_keys); i++)
    g_ptr_array_add (known, (gpointer)limit_keys[i].key);
  g_ptr_array_add (known, NULL);
  if (!check_known_keys (config->keyfile, "limits", (const char *const *)known->pdata, error))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (limit_keys); i++)
    {
      const LimitKey *limit = &limit_keys[i];
      g_autofree char *text = NULL;
      guint64 value = 0;
      char *end = NULL;

      if (!g_key_file_has_key (config->keyfile, "limits", limit->key, NULL))
        continue;
      text = g_key_file_get_string (config->keyfile, "limits", limit->key, NULL);
      if (text != NULL)
        g_strstrip (text);
      if (text == NULL || *text == '\0' || !g_ascii_isdigit (*text))
        end = NULL;
      else
        value = g_ascii_strtoull (text, &end, 10);
      if (end == NULL || *end != '\0' || value < limit->min || value > limit->max)
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "[limits] %s must be a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                       limit->key, limit->min, limit->max);
          return FALSE;
        }
      if (limit->wide)
        G_STRUCT_MEMBER (guint64, &config->limits, limit->offset) = value;
      else
        G_STRUCT_MEMBER (guint, &config->limits, limit->offset) = (guint)value;
    }
  return TRUE;
}

GSocketAddress *
pd_config_parse_listen_address (const char *text,
                                GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *colon;
  guint64 port = 0;
  char *end = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (g_str_has_prefix (text, "unix:"))
    {
      const char *path = text + strlen ("unix:");

      if (!g_path_is_absolute (path))
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "\"%s\": a unix socket path must be absolute", text);
          return NULL;
        }
      /* GIO would cut a longer path to fit, and listen where no client
       * looks. */
      if (strlen (path) > UNIX_PATH_MAX_LENGTH)
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "\"%s\": a unix socket path is at most %" G_GSIZE_FORMAT " octets",
                       text, (gsize)UNIX_PATH_MAX_LENGTH);
          return NULL;
        }
      return g_unix_socket_address_new (path);
    }

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close[1] != ':')
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "\"%s\" is not [IPv6]:port", text);
          return NULL;
        }
      host = g_strndup (text + 1, close - text - 1);
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL)
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "\"%s\" is not host:port", text);
          return NULL;
        }
      host = g_strndup (text, colon - text);
    }

  if (g_ascii_isdigit (colon[1]))
    port = g_ascii_strtoull (colon + 1, &end, 10);
  if (end == NULL || *end != '\0' || port > 65535)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "\"%s\": the port must be a number from 0 to 65535", text);
      return NULL;
    }

  if (g_strcmp0 (host, "*") == 0)
    address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  else
    address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "\"%s\": the host must be an IP address or *", text);
      return NULL;
    }
  return g_inet_socket_address_new (address, (guint16)port);
}

static gboolean
check_listen_list (const char *group,
                   GStrv list,
                   GError **error)
{
  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GSocketAddress) address = pd_config_parse_listen_address (list[i], &local_error);

      if (address == NULL)
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "[%s] listen: %s", group, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static PdConfig *
load_keyfile (GKeyFile *keyfile,
              const char *path,
              GError **error)
{
  g_autoptr (PdConfig) config = pd_config_new_default ();
  g_auto (GStrv) domains = NULL;
  g_autoptr (GPtrArray) normalised = g_ptr_array_new_with_free_func (g_free);

  g_key_file_unref (config->keyfile);
  config->keyfile = g_key_file_ref (keyfile);
  config->path = g_strdup (path);

  if (!check_known_groups (keyfile, error) || !check_known_keys (keyfile, "server", server_keys, error) || !check_known_keys (keyfile, "smtp", listen_keys, error) || !check_known_keys (keyfile, "lmtp", listen_keys, error) || !check_known_keys (keyfile, "tls", tls_keys, error))
    return NULL;

  if (!get_string (keyfile, "server", "state_dir", &config->state_dir, error) || !get_string (keyfile, "server", "hostname", &config->hostname, error) || !get_list (keyfile, "server", "domains", &domains, error) || !get_list (keyfile, "smtp", "listen", &config->smtp_listen, error) || !get_list (keyfile, "lmtp", "listen", &config->lmtp_listen, error) || !get_string (keyfile, "tls", "certificate", &config->tls_certificate, error) || !get_string (keyfile, "tls", "key", &config->tls_key, error) || !load_limits (config, error))
    return NULL;

  if (config->state_dir == NULL || !g_path_is_absolute (config->state_dir))
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[server] state_dir must be an absolute path");
      return NULL;
    }
  if (config->hostname == NULL)
    config->hostname = g_strdup (g_get_host_name ());
  if (g_hostname_is_non_ascii (config->hostname) || strpbrk (config->hostname, " \t\r\n") != NULL || strlen (config->hostname) > 253)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[server] hostname must be an ASCII host name");
      return NULL;
    }

  for (guint i = 0; domains != NULL && domains[i] != NULL; i++)
    {
      g_autoptr (GError) local_error = NULL;
      char *domain = postern_domain_normalize (domains[i], &local_error);

      if (domain == NULL)
        {
          g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                       "[server] domains: \"%s\": %s", domains[i], local_error->message);
          return NULL;
        }
      g_ptr_array_add (normalised, domain);
    }
  if (normalised->len == 0)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[server] domains must list at least one channel domain");
      return NULL;
    }
  g_ptr_array_add (normalised, NULL);
  g_strfreev (config->domains);
  config->domains = (GStrv)g_ptr_array_free (g_steal_pointer (&normalised), FALSE);

  if (!check_listen_list ("smtp", config->smtp_listen, error) || !check_listen_list ("lmtp", config->lmtp_listen, error))
    return NULL;

  if (config->tls_key != NULL && config->tls_certificate == NULL)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[tls] key is set without a certificate");
      return NULL;
    }

  return g_steal_pointer (&config);
}

PdConfig *
pd_config_load (const char *path,
                GError **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "%s: %s", path, local_error->message);
      return NULL;
    }
  return load_keyfile (keyfile, path, error);
}

PdConfig *
pd_config_load_from_data (const char *data,
                          gsize length,
                          GError **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();

  g_return_val_if_fail (data != NULL, NULL);

  if (!g_key_file_load_from_data (keyfile, data, length, G_KEY_FILE_NONE, error))
    return NULL;
  return load_keyfile (keyfile, NULL, error);
}

GTlsCertificate *
pd_config_load_tls_certificate (PdConfig *config,
                                GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GTlsCertificate *certificate;

  g_return_val_if_fail (config != NULL, NULL);

  if (config->tls_certificate == NULL)
    return NULL;
  certificate = g_tls_certificate_new_from_files (config->tls_certificate,
                                                  config->tls_key != NULL ? config->tls_key : config->tls_certificate,
                                                  &local_error);
  if (certificate == NULL)
    {
      g_set_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID,
                   "[tls] %s: %s", config->tls_certificate, local_error->message);
      return NULL;
    }
  return certificate;
}

gboolean
pd_config_has_domain (PdConfig *config,
                      const char *domain)
{
  g_return_val_if_fail (config != NULL, FALSE);
  return domain != NULL && g_strv_contains ((const char *const *)config->domains, domain);
}
