/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "pd-api-server.h"
#include "pd-live.h"

G_BEGIN_DECLS

/* What the router hands a resource handler: the authenticated user, the
 * path split into decoded segments below /api/v1/, and the query. */
typedef struct
{
  PdApiServer *server;
  SoupServerMessage *msg;
  const char *method;
  gint64 user_id;    /* 0 for endpoints without authentication */
  gint64 device_id;  /* 0 likewise */
  char **segments;   /* NULL-terminated, percent-decoded */
  GHashTable *query; /* nullable; decoded name -> value */
  gint64 now;
} PdApiRequest;

typedef void (*PdApiHandler) (PdApiRequest *req);

/* Problem types: https://postern.invalid/problems/SLUG (docs/api.md). */
void pd_api_reply_problem (PdApiRequest *req,
                           guint status,
                           const char *slug,
                           const char *title,
                           const char *field,
                           const char *detail_format,
                           ...) G_GNUC_PRINTF (6, 7);
void pd_api_reply_problem_msg (SoupServerMessage *msg,
                               guint status,
                               const char *slug,
                               const char *title,
                               const char *field,
                               const char *detail);
/* Maps store and core errors: not found 404, exists 409, conflict 412,
 * invalid 400, anything else 500 (logged, detail kept generic). */
void pd_api_reply_error (PdApiRequest *req, const GError *error);
void pd_api_reply_not_found (PdApiRequest *req);
/* Takes @node. */
void pd_api_reply_json (PdApiRequest *req, guint status, JsonNode *node);
void pd_api_reply_empty (PdApiRequest *req, guint status);
/* 200 with {"@member":[…]}: each of @items through @to_json. */
typedef JsonNode *(*PdApiToJsonFunc) (gconstpointer item);
void pd_api_reply_list (PdApiRequest *req, const char *member, GPtrArray *items, PdApiToJsonFunc to_json);

/* Parses the body as a JSON object; on failure replies 400 and returns
 * NULL. */
JsonObject *pd_api_read_object (PdApiRequest *req);

typedef enum
{
  PD_API_MEMBER_OPTIONAL = 0,
  PD_API_MEMBER_REQUIRED = 1 << 0,
  PD_API_MEMBER_NULLABLE = 1 << 1,
} PdApiMemberFlags;

/* Member readers: FALSE when they replied 400 naming the member. An absent
 * (or, when nullable, null) member leaves *out untouched and *out_present
 * (nullable) FALSE. Strings are validated UTF-8 without NUL. */
gboolean pd_api_member_string (PdApiRequest *req, JsonObject *object, const char *name, PdApiMemberFlags flags, const char **out, gboolean *out_present);
gboolean pd_api_member_int (PdApiRequest *req, JsonObject *object, const char *name, PdApiMemberFlags flags, gint64 *out, gboolean *out_present);
gboolean pd_api_member_time (PdApiRequest *req, JsonObject *object, const char *name, PdApiMemberFlags flags, gint64 *out, gboolean *out_present);
gboolean pd_api_member_string_array (PdApiRequest *req, JsonObject *object, const char *name, PdApiMemberFlags flags, GPtrArray **out, gboolean *out_present);

/* Query parameter readers; FALSE when they replied 400. */
const char *pd_api_query (PdApiRequest *req, const char *name);
gboolean pd_api_query_int (PdApiRequest *req, const char *name, gint64 min, gint64 max, gint64 default_value, gint64 *out);

/* Authentication failures other than the bearer token (pairing codes):
 * counted per client address, answered 401 after the earned delay, or 429
 * once the address is refused. pd_api_client_refused() replies 429 and
 * returns TRUE when it is. */
gboolean pd_api_client_refused (PdApiRequest *req);
void pd_api_reply_auth_failure (PdApiRequest *req, const char *slug, const char *title, const char *detail);

/* The channel @id of the request's user, or NULL after replying 404. */
PosternChannel *pd_api_lookup_channel (PdApiRequest *req, const char *id);

PdLive *pd_api_server_get_live (PdApiServer *self);

/* The serialized full channel list of a user at a channel revision: the
 * list is most of the API's work and changes rarely. Any channel change
 * raises the user's revision, so a hit is never stale. */
#define PD_API_LIST_CACHE_USERS 256
GBytes *pd_api_server_lookup_list_cache (PdApiServer *self, gint64 user_id, gint64 revision);
void pd_api_server_store_list_cache (PdApiServer *self, gint64 user_id, gint64 revision, GBytes *body);
void pd_api_reply_json_bytes (PdApiRequest *req, guint status, GBytes *body);
const PdApiOptions *pd_api_server_get_options (PdApiServer *self);

/* Resource handlers (pd-api-*.c). */
void pd_api_health (PdApiRequest *req);
void pd_api_pair (PdApiRequest *req);
void pd_api_account (PdApiRequest *req);
void pd_api_devices_list (PdApiRequest *req);
void pd_api_devices_revoke (PdApiRequest *req);

void pd_api_channels_list (PdApiRequest *req);
void pd_api_channels_create (PdApiRequest *req);
void pd_api_channels_get (PdApiRequest *req);
void pd_api_channels_patch (PdApiRequest *req);
void pd_api_channels_delete (PdApiRequest *req);
void pd_api_channels_revoke (PdApiRequest *req);
void pd_api_channels_add_sender (PdApiRequest *req);
void pd_api_channels_remove_sender (PdApiRequest *req);
void pd_api_channels_list_shares (PdApiRequest *req);
void pd_api_channels_add_share (PdApiRequest *req);
void pd_api_channels_timeline (PdApiRequest *req);

void pd_api_blocks_list (PdApiRequest *req);
void pd_api_blocks_add (PdApiRequest *req);
void pd_api_blocks_remove (PdApiRequest *req);

void pd_api_events_list (PdApiRequest *req);
void pd_api_held_list (PdApiRequest *req);
void pd_api_held_release (PdApiRequest *req);
void pd_api_held_drop (PdApiRequest *req);

G_END_DECLS
