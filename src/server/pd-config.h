/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pd-limits.h"

G_BEGIN_DECLS

#define PD_CONFIG_ERROR (pd_config_error_quark ())

typedef enum
{
  PD_CONFIG_ERROR_INVALID, /* a key holds a value we refuse; the message names it */
  PD_CONFIG_ERROR_UNKNOWN, /* a key we do not know in one of our groups (a typo) */
} PdConfigError;

GQuark pd_config_error_quark (void);

/* Default location of the configuration file. */
#define PD_CONFIG_DEFAULT_PATH SYSCONFDIR "/postern/posternd.conf"

/*
 * posternd's configuration (a GKeyFile; data/posternd.conf documents every
 * key). The groups [server], [smtp], [lmtp], [tls] and [limits] are read
 * here and unknown keys in them are errors; other parts of posternd read
 * their own groups ([api], ...) from @keyfile.
 */
typedef struct
{
  GKeyFile *keyfile; /* the whole file, for the groups of other parts */
  char *path;        /* NULL for the built-in defaults */

  /* [server] */
  char *state_dir;
  GStrv domains;  /* channel domains, normalised; the first is the default */
  char *hostname; /* greeting, Received: */

  /* [smtp] and [lmtp] */
  GStrv smtp_listen; /* "host:port", "[v6]:port" */
  GStrv lmtp_listen; /* "host:port" or "unix:/path" */

  /* [tls] */
  char *tls_certificate; /* PEM file, or NULL: no STARTTLS */
  char *tls_key;         /* PEM file; NULL: the key is in the certificate file */

  PdLimits limits;
} PdConfig;

PdConfig *pd_config_new_default (void);
PdConfig *pd_config_load (const char *path, GError **error);
/* Parses configuration text (for tests and --check-config of stdin). */
PdConfig *pd_config_load_from_data (const char *data, gsize length, GError **error);
void pd_config_free (PdConfig *config);

/* Loads the TLS certificate and key; NULL without error when none is
 * configured. */
GTlsCertificate *pd_config_load_tls_certificate (PdConfig *config, GError **error);

/* Parses "host:port", "[v6]:port", "*:port" or "unix:/path". */
GSocketAddress *pd_config_parse_listen_address (const char *text, GError **error);

/* Whether @domain (normalised) is one of the channel domains. */
gboolean pd_config_has_domain (PdConfig *config, const char *domain);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdConfig, pd_config_free)

G_END_DECLS
