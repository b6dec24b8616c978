/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core-error.h"
#include "postern-enums.h"

/*
 * One table per enumeration: the value nick is the wire name, so the GType
 * (for properties) and the to/from-string helpers can never disagree. Each
 * table is in value order, which postern_enum_to_string() relies on.
 */

static const GEnumValue channel_kind_values[] = {
  { POSTERN_CHANNEL_KIND_ONE_TIME, "POSTERN_CHANNEL_KIND_ONE_TIME", "one-time" },
  { POSTERN_CHANNEL_KIND_RELATIONSHIP, "POSTERN_CHANNEL_KIND_RELATIONSHIP", "relationship" },
  { POSTERN_CHANNEL_KIND_OPEN, "POSTERN_CHANNEL_KIND_OPEN", "open" },
  { 0, NULL, NULL },
};

static const GEnumValue channel_state_values[] = {
  { POSTERN_CHANNEL_STATE_ACTIVE, "POSTERN_CHANNEL_STATE_ACTIVE", "active" },
  { POSTERN_CHANNEL_STATE_PAUSED, "POSTERN_CHANNEL_STATE_PAUSED", "paused" },
  { POSTERN_CHANNEL_STATE_REVOKED, "POSTERN_CHANNEL_STATE_REVOKED", "revoked" },
  { 0, NULL, NULL },
};

static const GEnumValue unexpected_policy_values[] = {
  { POSTERN_UNEXPECTED_ALERT, "POSTERN_UNEXPECTED_ALERT", "alert" },
  { POSTERN_UNEXPECTED_HOLD, "POSTERN_UNEXPECTED_HOLD", "hold" },
  { POSTERN_UNEXPECTED_REJECT, "POSTERN_UNEXPECTED_REJECT", "reject" },
  { 0, NULL, NULL },
};

static const GEnumValue farewell_values[] = {
  { POSTERN_FAREWELL_REFUSE, "POSTERN_FAREWELL_REFUSE", "refuse" },
  { POSTERN_FAREWELL_DROP, "POSTERN_FAREWELL_DROP", "drop" },
  { 0, NULL, NULL },
};

static const GEnumValue verdict_values[] = {
  { POSTERN_VERDICT_EXPECTED, "POSTERN_VERDICT_EXPECTED", "expected" },
  { POSTERN_VERDICT_ACCEPTED, "POSTERN_VERDICT_ACCEPTED", "accepted" },
  { POSTERN_VERDICT_UNEXPECTED, "POSTERN_VERDICT_UNEXPECTED", "unexpected" },
  { POSTERN_VERDICT_HELD, "POSTERN_VERDICT_HELD", "held" },
  { POSTERN_VERDICT_REJECTED_UNEXPECTED, "POSTERN_VERDICT_REJECTED_UNEXPECTED", "rejected-unexpected" },
  { POSTERN_VERDICT_REJECTED_REVOKED, "POSTERN_VERDICT_REJECTED_REVOKED", "rejected-revoked" },
  { POSTERN_VERDICT_DROPPED_REVOKED, "POSTERN_VERDICT_DROPPED_REVOKED", "dropped-revoked" },
  { POSTERN_VERDICT_REJECTED_EXPIRED, "POSTERN_VERDICT_REJECTED_EXPIRED", "rejected-expired" },
  { POSTERN_VERDICT_REJECTED_PAUSED, "POSTERN_VERDICT_REJECTED_PAUSED", "rejected-paused" },
  { POSTERN_VERDICT_REJECTED_BLOCKED, "POSTERN_VERDICT_REJECTED_BLOCKED", "rejected-blocked" },
  { 0, NULL, NULL },
};

static const GEnumValue address_style_values[] = {
  { POSTERN_ADDRESS_STYLE_RANDOM, "POSTERN_ADDRESS_STYLE_RANDOM", "random" },
  { POSTERN_ADDRESS_STYLE_WORDS, "POSTERN_ADDRESS_STYLE_WORDS", "words" },
  { 0, NULL, NULL },
};

static const GEnumValue share_method_values[] = {
  { POSTERN_SHARE_CLIPBOARD, "POSTERN_SHARE_CLIPBOARD", "clipboard" },
  { POSTERN_SHARE_QR, "POSTERN_SHARE_QR", "qr" },
  { POSTERN_SHARE_OTHER, "POSTERN_SHARE_OTHER", "other" },
  { 0, NULL, NULL },
};

static const char *
enum_to_string (const GEnumValue *values,
                int value)
{
  for (guint i = 0; values[i].value_nick != NULL; i++)
    {
      if (values[i].value == value)
        return values[i].value_nick;
    }

  return NULL;
}

static gboolean
enum_from_string (const GEnumValue *values,
                  const char *text,
                  int *out,
                  GError **error)
{
  g_autoptr (GString) valid = g_string_new (NULL);

  for (guint i = 0; values[i].value_nick != NULL; i++)
    {
      if (text != NULL && strcmp (values[i].value_nick, text) == 0)
        {
          *out = values[i].value;
          return TRUE;
        }

      g_string_append_printf (valid, "%s%s", i > 0 ? ", " : "", values[i].value_nick);
    }

  g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE,
               "expected one of %s", valid->str);
  return FALSE;
}

#define POSTERN_DEFINE_ENUM(TypeName, type_name, values)                        \
  GType                                                                         \
      type_name##_get_type (void)                                               \
  {                                                                             \
    static gsize type_id = 0;                                                   \
    if (g_once_init_enter (&type_id))                                           \
      g_once_init_leave (&type_id, g_enum_register_static (#TypeName, values)); \
    return type_id;                                                             \
  }                                                                             \
                                                                                \
  const char *                                                                  \
      type_name##_to_string (TypeName value)                                    \
  {                                                                             \
    return enum_to_string (values, (int)value);                                 \
  }                                                                             \
                                                                                \
  gboolean                                                                      \
      type_name##_from_string (const char *text,                                \
                               TypeName *out,                                   \
                               GError **error)                                  \
  {                                                                             \
    int value = 0;                                                              \
    g_return_val_if_fail (out != NULL, FALSE);                                  \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);              \
    if (!enum_from_string (values, text, &value, error))                        \
      return FALSE;                                                             \
    *out = (TypeName)value;                                                     \
    return TRUE;                                                                \
  }

POSTERN_DEFINE_ENUM (PosternChannelKind, postern_channel_kind, channel_kind_values)
POSTERN_DEFINE_ENUM (PosternChannelState, postern_channel_state, channel_state_values)
POSTERN_DEFINE_ENUM (PosternUnexpectedPolicy, postern_unexpected_policy, unexpected_policy_values)
POSTERN_DEFINE_ENUM (PosternFarewell, postern_farewell, farewell_values)
POSTERN_DEFINE_ENUM (PosternVerdict, postern_verdict, verdict_values)
POSTERN_DEFINE_ENUM (PosternAddressStyle, postern_address_style, address_style_values)
POSTERN_DEFINE_ENUM (PosternShareMethod, postern_share_method, share_method_values)

gboolean
postern_verdict_is_accepted (PosternVerdict verdict)
{
  /* A dropped message is answered 250 too, but it is neither kept nor
   * delivered, so it is not "accepted" in the sense of this function. */
  switch (verdict)
    {
      case POSTERN_VERDICT_EXPECTED:
      case POSTERN_VERDICT_ACCEPTED:
      case POSTERN_VERDICT_UNEXPECTED:
      case POSTERN_VERDICT_HELD:
        return TRUE;
      case POSTERN_VERDICT_REJECTED_UNEXPECTED:
      case POSTERN_VERDICT_REJECTED_REVOKED:
      case POSTERN_VERDICT_DROPPED_REVOKED:
      case POSTERN_VERDICT_REJECTED_EXPIRED:
      case POSTERN_VERDICT_REJECTED_PAUSED:
      case POSTERN_VERDICT_REJECTED_BLOCKED:
      default:
        return FALSE;
    }
}

gboolean
postern_verdict_is_alert (PosternVerdict verdict)
{
  /* A stranger's mail that reached the owner or waits for a decision. A
   * rejected stranger is recorded as an event but does not notify: the owner
   * chose "reject" so as not to hear about it. */
  return verdict == POSTERN_VERDICT_UNEXPECTED || verdict == POSTERN_VERDICT_HELD;
}
