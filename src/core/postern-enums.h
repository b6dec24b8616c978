/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * The enumerations of the channel model and their wire names (JSON, SQLite,
 * D-Bus, the command line). Every `_from_string` refuses unknown names with
 * %POSTERN_CORE_ERROR_INVALID_VALUE and a message that lists the valid ones.
 */

typedef enum
{
  POSTERN_CHANNEL_KIND_ONE_TIME,     /* "one-time" */
  POSTERN_CHANNEL_KIND_RELATIONSHIP, /* "relationship" */
  POSTERN_CHANNEL_KIND_OPEN,         /* "open" */
} PosternChannelKind;

typedef enum
{
  POSTERN_CHANNEL_STATE_ACTIVE,  /* "active" */
  POSTERN_CHANNEL_STATE_PAUSED,  /* "paused" */
  POSTERN_CHANNEL_STATE_REVOKED, /* "revoked" */
} PosternChannelState;

typedef enum
{
  POSTERN_UNEXPECTED_ALERT,  /* "alert": deliver, tag, notify */
  POSTERN_UNEXPECTED_HOLD,   /* "hold": keep on the server */
  POSTERN_UNEXPECTED_REJECT, /* "reject": 550 5.7.1 */
} PosternUnexpectedPolicy;

typedef enum
{
  POSTERN_FAREWELL_REFUSE, /* "refuse": 550 5.1.1 with the owner's text */
  POSTERN_FAREWELL_DROP,   /* "drop": 250, recorded, never delivered */
} PosternFarewell;

typedef enum
{
  POSTERN_VERDICT_EXPECTED,            /* "expected" */
  POSTERN_VERDICT_ACCEPTED,            /* "accepted": open channel */
  POSTERN_VERDICT_UNEXPECTED,          /* "unexpected": delivered, tagged, alert */
  POSTERN_VERDICT_HELD,                /* "held" */
  POSTERN_VERDICT_REJECTED_UNEXPECTED, /* "rejected-unexpected" */
  POSTERN_VERDICT_REJECTED_REVOKED,    /* "rejected-revoked" */
  POSTERN_VERDICT_DROPPED_REVOKED,     /* "dropped-revoked" */
  POSTERN_VERDICT_REJECTED_EXPIRED,    /* "rejected-expired" */
  POSTERN_VERDICT_REJECTED_PAUSED,     /* "rejected-paused" */
  POSTERN_VERDICT_REJECTED_BLOCKED,    /* "rejected-blocked" */
} PosternVerdict;

typedef enum
{
  POSTERN_ADDRESS_STYLE_RANDOM, /* "random": k7q2mv9xwe4 */
  POSTERN_ADDRESS_STYLE_WORDS,  /* "words": amber-otter-... */
} PosternAddressStyle;

typedef enum
{
  POSTERN_SHARE_CLIPBOARD, /* "clipboard" */
  POSTERN_SHARE_QR,        /* "qr" */
  POSTERN_SHARE_OTHER,     /* "other" */
} PosternShareMethod;

const char *postern_channel_kind_to_string (PosternChannelKind kind);
gboolean postern_channel_kind_from_string (const char *text, PosternChannelKind *out, GError **error);

const char *postern_channel_state_to_string (PosternChannelState state);
gboolean postern_channel_state_from_string (const char *text, PosternChannelState *out, GError **error);

const char *postern_unexpected_policy_to_string (PosternUnexpectedPolicy policy);
gboolean postern_unexpected_policy_from_string (const char *text, PosternUnexpectedPolicy *out, GError **error);

const char *postern_farewell_to_string (PosternFarewell farewell);
gboolean postern_farewell_from_string (const char *text, PosternFarewell *out, GError **error);

const char *postern_verdict_to_string (PosternVerdict verdict);
gboolean postern_verdict_from_string (const char *text, PosternVerdict *out, GError **error);
/* TRUE for verdicts whose message is accepted (250) and kept or delivered. */
gboolean postern_verdict_is_accepted (PosternVerdict verdict);
/* TRUE for the verdicts a user is alerted about. */
gboolean postern_verdict_is_alert (PosternVerdict verdict);

const char *postern_address_style_to_string (PosternAddressStyle style);
gboolean postern_address_style_from_string (const char *text, PosternAddressStyle *out, GError **error);

const char *postern_share_method_to_string (PosternShareMethod method);
gboolean postern_share_method_from_string (const char *text, PosternShareMethod *out, GError **error);

/* GTypes for the enumerations (GObject properties, GSettings, D-Bus); the
 * value nicks are the wire names. */
#define POSTERN_TYPE_CHANNEL_KIND      (postern_channel_kind_get_type ())
#define POSTERN_TYPE_CHANNEL_STATE     (postern_channel_state_get_type ())
#define POSTERN_TYPE_UNEXPECTED_POLICY (postern_unexpected_policy_get_type ())
#define POSTERN_TYPE_FAREWELL          (postern_farewell_get_type ())
#define POSTERN_TYPE_VERDICT           (postern_verdict_get_type ())
#define POSTERN_TYPE_ADDRESS_STYLE     (postern_address_style_get_type ())
#define POSTERN_TYPE_SHARE_METHOD      (postern_share_method_get_type ())

GType postern_channel_kind_get_type (void) G_GNUC_CONST;
GType postern_channel_state_get_type (void) G_GNUC_CONST;
GType postern_unexpected_policy_get_type (void) G_GNUC_CONST;
GType postern_farewell_get_type (void) G_GNUC_CONST;
GType postern_verdict_get_type (void) G_GNUC_CONST;
GType postern_address_style_get_type (void) G_GNUC_CONST;
GType postern_share_method_get_type (void) G_GNUC_CONST;

G_END_DECLS
