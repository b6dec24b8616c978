/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-agent-error.h"
#include "postern-client.h"
#include "postern-core.h"

static const GDBusErrorEntry error_entries[] = {
  { POSTERN_AGENT_ERROR_NOT_PAIRED, "io.github.postern.Postern.Error.NotPaired" },
  { POSTERN_AGENT_ERROR_OFFLINE, "io.github.postern.Postern.Error.Offline" },
  { POSTERN_AGENT_ERROR_NOT_FOUND, "io.github.postern.Postern.Error.NotFound" },
  { POSTERN_AGENT_ERROR_INVALID, "io.github.postern.Postern.Error.Invalid" },
  { POSTERN_AGENT_ERROR_CONFLICT, "io.github.postern.Postern.Error.Conflict" },
  { POSTERN_AGENT_ERROR_KEYRING, "io.github.postern.Postern.Error.Keyring" },
  { POSTERN_AGENT_ERROR_UNTRUSTED, "io.github.postern.Postern.Error.Untrusted" },
  { POSTERN_AGENT_ERROR_FAILED, "io.github.postern.Postern.Error.Failed" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (error_entries) == POSTERN_AGENT_N_ERRORS);

GQuark
postern_agent_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("postern-agent-error-quark",
                                      &quark,
                                      error_entries,
                                      G_N_ELEMENTS (error_entries));
  return (GQuark)quark;
}

GError *
postern_agent_error_from_error (const GError *error)
{
  PosternAgentError code = POSTERN_AGENT_ERROR_FAILED;

  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain == POSTERN_AGENT_ERROR)
    return g_error_copy (error);

  if (error->domain == POSTERN_CLIENT_ERROR)
    {
      /* 1:1, as postern-client-error.h documents. */
      switch ((PosternClientError)error->code)
        {
          case POSTERN_CLIENT_ERROR_NOT_PAIRED:
          case POSTERN_CLIENT_ERROR_AUTH:
            code = POSTERN_AGENT_ERROR_NOT_PAIRED;
            break;
          case POSTERN_CLIENT_ERROR_OFFLINE:
            code = POSTERN_AGENT_ERROR_OFFLINE;
            break;
          case POSTERN_CLIENT_ERROR_UNTRUSTED:
            code = POSTERN_AGENT_ERROR_UNTRUSTED;
            break;
          case POSTERN_CLIENT_ERROR_NOT_FOUND:
            code = POSTERN_AGENT_ERROR_NOT_FOUND;
            break;
          case POSTERN_CLIENT_ERROR_INVALID:
            code = POSTERN_AGENT_ERROR_INVALID;
            break;
          case POSTERN_CLIENT_ERROR_CONFLICT:
            code = POSTERN_AGENT_ERROR_CONFLICT;
            break;
          case POSTERN_CLIENT_ERROR_KEYRING_LOCKED:
          case POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE:
            code = POSTERN_AGENT_ERROR_KEYRING;
            break;
          case POSTERN_CLIENT_ERROR_FAILED:
          case POSTERN_CLIENT_ERROR_PROTOCOL:
          default:
            code = POSTERN_AGENT_ERROR_FAILED;
            break;
        }
    }
  else if (error->domain == POSTERN_CORE_ERROR)
    code = POSTERN_AGENT_ERROR_INVALID;
  else if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
          case G_IO_ERROR_NOT_FOUND:
            code = POSTERN_AGENT_ERROR_NOT_FOUND;
            break;
          case G_IO_ERROR_INVALID_ARGUMENT:
          case G_IO_ERROR_INVALID_DATA:
            code = POSTERN_AGENT_ERROR_INVALID;
            break;
          case G_IO_ERROR_HOST_NOT_FOUND:
          case G_IO_ERROR_HOST_UNREACHABLE:
          case G_IO_ERROR_NETWORK_UNREACHABLE:
          case G_IO_ERROR_CONNECTION_REFUSED:
          case G_IO_ERROR_TIMED_OUT:
          case G_IO_ERROR_NOT_CONNECTED:
            code = POSTERN_AGENT_ERROR_OFFLINE;
            break;
          default:
            break;
        }
    }
  else if (error->domain == G_TLS_ERROR)
    code = POSTERN_AGENT_ERROR_UNTRUSTED;

  return g_error_new_literal (POSTERN_AGENT_ERROR, code, error->message);
}
