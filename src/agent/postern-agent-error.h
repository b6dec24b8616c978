/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define POSTERN_AGENT_ERROR (postern_agent_error_quark ())

/**
 * PosternAgentError:
 *
 * The errors of the agent's D-Bus API. The domain is registered with GDBus,
 * so each travels as the D-Bus error named in the comment and a caller sees
 * the same code after g_dbus_error_strip_remote_error().
 */
typedef enum
{
  POSTERN_AGENT_ERROR_NOT_PAIRED, /* io.github.postern.Postern.Error.NotPaired */
  POSTERN_AGENT_ERROR_OFFLINE,    /* …Offline: needs the server, which is out of reach */
  POSTERN_AGENT_ERROR_NOT_FOUND,  /* …NotFound */
  POSTERN_AGENT_ERROR_INVALID,    /* …Invalid: a bad argument */
  POSTERN_AGENT_ERROR_CONFLICT,   /* …Conflict: changed elsewhere meanwhile */
  POSTERN_AGENT_ERROR_KEYRING,    /* …Keyring: locked or no Secret Service */
  POSTERN_AGENT_ERROR_UNTRUSTED,  /* …Untrusted: certificate differs from the pin */
  POSTERN_AGENT_ERROR_FAILED,     /* …Failed: anything else */
} PosternAgentError;

#define POSTERN_AGENT_N_ERRORS (POSTERN_AGENT_ERROR_FAILED + 1)

GQuark postern_agent_error_quark (void);

/* Maps an error from the client library or the core to the agent's domain,
 * keeping the message. */
GError *postern_agent_error_from_error (const GError *error);

G_END_DECLS
