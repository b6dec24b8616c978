/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pd-config.h"
#include "pd-store-auth.h"
#include "pd-store.h"

G_BEGIN_DECLS

/*
 * posternd's HTTPS JSON API (docs/api.md): a SoupServer with one router
 * under /api/v1, bearer-token authentication, RFC 9457 problem+json
 * errors, capped request bodies, slowed-down repeated authentication
 * failures, and the WebSocket live push (pd-live.c).
 *
 * It runs on the thread-default main context it was created in, which must
 * be the store's.
 */

#define PD_API_DEFAULT_LISTEN                "127.0.0.1:8443"
#define PD_API_DEFAULT_PORT                  8443
#define PD_API_MAX_BODY                      (64 * 1024) /* octets */
#define PD_API_AUTH_FAILURES_BEFORE_DELAY    5
#define PD_API_AUTH_FAILURE_DELAY_MS         250 /* doubled per failure past the threshold */
#define PD_API_AUTH_FAILURE_MAX_DELAY_MS     8000
#define PD_API_AUTH_FAILURES_BEFORE_REFUSING 50  /* then 429 until the window passes */
#define PD_API_AUTH_FAILURE_WINDOW           900 /* seconds */
#define PD_API_MAX_TRACKED_CLIENTS           4096
#define PD_API_LIVE_PING_INTERVAL            30 /* seconds */
#define PD_API_MAX_EVENTS_PAGE               500
#define PD_API_MAX_CONNECTIONS               512
#define PD_API_MAX_CONNECTIONS_PER_CLIENT    32
#define PD_API_REQUEST_HEADER_TIMEOUT        15 /* seconds: TLS handshake, headers, keep-alive idle */

typedef struct
{
  /* "HOST:PORT" with HOST an IP address; port 0 picks a free one. */
  char *listen;
  /* Plain HTTP; refused unless @listen is a loopback address. */
  gboolean allow_plain_http;
  /* Required unless @allow_plain_http. */
  GTlsCertificate *certificate;
  /* Channel domains (normalised); the first one is used for new channels. */
  char **domains;
  PosternAddressStyle address_style;
  /* Public URL put into pairing URIs; NULL: https://LISTEN. */
  char *public_url;
  gsize max_body;
  gint64 pairing_code_lifetime; /* seconds */
  guint auth_failures_before_delay;
  guint auth_failure_delay_ms;
  guint auth_failures_before_refusing;
  guint live_ping_interval; /* seconds */
  guint max_connections;
  guint max_connections_per_client;
  guint request_header_timeout; /* seconds */
  gboolean no_list_cache;       /* for bench/: serialize every channel list */
} PdApiOptions;

PdApiOptions *pd_api_options_new (void); /* the defaults above */
PdApiOptions *pd_api_options_copy (const PdApiOptions *options);
void pd_api_options_free (PdApiOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdApiOptions, pd_api_options_free)

/* Reads the [api] group of @keyfile (listen, allow_plain_http,
 * tls_certificate, tls_key, public_url, address_style, max_body,
 * pairing_code_lifetime, max_connections, max_connections_per_client) and loads or creates the certificate in
 * @state_dir (its SAN names @hostname). @domains are the server's channel
 * domains. */
/* The [api] group checked as pd_api_options_new_from_keyfile() and the
 * listen address would check it, without loading or making the
 * certificate (for --check-config). */
gboolean pd_api_options_check_keyfile (GKeyFile *keyfile, GError **error);
PdApiOptions *pd_api_options_new_from_keyfile (GKeyFile *keyfile,
                                               const char *state_dir,
                                               const char *const *domains,
                                               const char *hostname,
                                               GError **error);

/* The URL clients reach the API at: [api] public_url, else https://HOST:PORT
 * from the listen address (the server's host name for a wildcard). */
char *pd_api_options_get_public_url (const PdApiOptions *options, const char *hostname);

#define PD_TYPE_API_SERVER (pd_api_server_get_type ())
G_DECLARE_FINAL_TYPE (PdApiServer, pd_api_server, PD, API_SERVER, GObject)

typedef gint64 (*PdApiClockFunc) (gpointer user_data);

PdApiServer *pd_api_server_new (PdStore *store,
                                PdStoreAuth *auth,
                                const PdApiOptions *options);
gboolean pd_api_server_listen (PdApiServer *self, GError **error);
void pd_api_server_stop (PdApiServer *self);

/* The base URL actually bound, e.g. "https://127.0.0.1:40123". */
char *pd_api_server_get_url (PdApiServer *self);
/* "AA:BB:..." or NULL for plain HTTP. */
const char *pd_api_server_get_fingerprint (PdApiServer *self);

/* Tests move time (pairing code expiry) through this; NULL restores the
 * real clock. */
void pd_api_server_set_clock (PdApiServer *self, PdApiClockFunc func, gpointer user_data);
gint64 pd_api_server_now (PdApiServer *self);

/* What `posternd run` calls: the API from the configuration's [api]
 * group, listening, on the store's main context. */
PdApiServer *pd_api_server_start (PdConfig *config, PdStore *store, GError **error);

PdStore *pd_api_server_get_store (PdApiServer *self);
PdStoreAuth *pd_api_server_get_auth (PdApiServer *self);
/* Number of open connections (WebSocket ones included). */
guint pd_api_server_get_n_connections (PdApiServer *self);
/* Number of open live (WebSocket) subscribers. */
guint pd_api_server_get_n_live (PdApiServer *self);

G_END_DECLS
