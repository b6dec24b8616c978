/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

#define UUID "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"

typedef struct
{
  PosternChannel *channel;
  GHashTable *notified; /* property name -> count */
} Fixture;

static void
notify_cb (GObject *object,
           GParamSpec *pspec,
           Fixture *fixture)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (fixture->notified, pspec->name));

  g_hash_table_insert (fixture->notified, (gpointer)pspec->name, GUINT_TO_POINTER (count + 1));
}

static guint
notified (Fixture *fixture,
          const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (fixture->notified, name));
}

static void
fixture_set_up (Fixture *fixture,
                gconstpointer data)
{
  fixture->channel = postern_channel_new ();
  fixture->notified = g_hash_table_new (g_str_hash, g_str_equal);
  g_signal_connect (fixture->channel, "notify", G_CALLBACK (notify_cb), fixture);
}

static void
fixture_tear_down (Fixture *fixture,
                   gconstpointer data)
{
  g_assert_finalize_object (fixture->channel);
  g_hash_table_unref (fixture->notified);
}

static void
test_defaults (Fixture *fixture,
               gconstpointer data)
{
  PosternChannel *channel = fixture->channel;

  g_assert_null (postern_channel_get_id (channel));
  g_assert_null (postern_channel_get_address (channel));
  g_assert_null (postern_channel_get_label (channel));
  g_assert_cmpint (postern_channel_get_kind (channel), ==, POSTERN_CHANNEL_KIND_ONE_TIME);
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_ACTIVE);
  g_assert_cmpint (postern_channel_get_on_unexpected (channel), ==, POSTERN_UNEXPECTED_ALERT);
  g_assert_cmpint (postern_channel_get_farewell (channel), ==, POSTERN_FAREWELL_REFUSE);
  g_assert_cmpint (postern_channel_get_expires_at (channel), ==, 0);
  g_assert_cmpuint (postern_channel_get_expected_senders (channel)->len, ==, 0);
}

static void
test_notify_only_on_change (Fixture *fixture,
                            gconstpointer data)
{
  PosternChannel *channel = fixture->channel;

  g_assert_true (postern_channel_set_label (channel, "Recruiter at FOSDEM", NULL));
  g_assert_true (postern_channel_set_label (channel, "Recruiter at FOSDEM", NULL));
  g_assert_cmpuint (notified (fixture, "label"), ==, 1);

  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_PAUSED);
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_PAUSED);
  g_assert_cmpuint (notified (fixture, "state"), ==, 1);

  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_ONE_TIME);
  g_assert_cmpuint (notified (fixture, "kind"), ==, 0);

  postern_channel_set_revision (channel, 7);
  postern_channel_set_revision (channel, 7);
  g_assert_cmpuint (notified (fixture, "revision"), ==, 1);

  /* Through GObject too. */
  g_object_set (channel, "on-unexpected", POSTERN_UNEXPECTED_HOLD, NULL);
  g_object_set (channel, "on-unexpected", POSTERN_UNEXPECTED_HOLD, NULL);
  g_assert_cmpuint (notified (fixture, "on-unexpected"), ==, 1);

  /* "" and NULL are the same empty label. */
  g_assert_true (postern_channel_set_note (channel, "", NULL));
  g_assert_cmpuint (notified (fixture, "note"), ==, 0);
  g_assert_true (postern_channel_set_label (channel, NULL, NULL));
  g_assert_true (postern_channel_set_label (channel, "", NULL));
  g_assert_cmpuint (notified (fixture, "label"), ==, 2);
}

static void
test_refused_setter_keeps_value (Fixture *fixture,
                                 gconstpointer data)
{
  PosternChannel *channel = fixture->channel;
  g_autoptr (GError) error = NULL;

  g_assert_true (postern_channel_set_label (channel, "ok", NULL));
  g_assert_false (postern_channel_set_label (channel, "bad\nlabel", &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "label: "));
  g_assert_cmpstr (postern_channel_get_label (channel), ==, "ok");
  g_assert_cmpuint (notified (fixture, "label"), ==, 1);
}

static void
test_id (Fixture *fixture,
         gconstpointer data)
{
  static const struct
  {
    const char *input;
    const char *stored; /* NULL: refused */
  } cases[] = {
    { UUID, UUID },
    { "6F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F", UUID },
    { "6f1c2d3e4b5a4c6d8e7f0a1b2c3d4e5f", NULL },
    { "not-a-uuid", NULL },
    { "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5", NULL },
    { "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f ", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternChannel) channel = postern_channel_new ();
      g_autoptr (GError) error = NULL;
      gboolean ok = postern_channel_set_id (channel, cases[i].input, &error);

      if (cases[i].stored != NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpstr (postern_channel_get_id (channel), ==, cases[i].stored);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
          g_assert_null (postern_channel_get_id (channel));
        }
    }
}

static void
test_uuid_new (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 1000; i++)
    {
      char *uuid = postern_uuid_new ();

      g_assert_true (postern_uuid_is_valid (uuid));
      g_assert_cmpuint (strlen (uuid), ==, 36);
      g_assert_cmpint (uuid[14], ==, '4');
      g_assert_nonnull (strchr ("89ab", uuid[19]));
      for (const char *p = uuid; *p; p++)
        g_assert_false (g_ascii_isupper (*p));
      g_assert_true (g_hash_table_add (seen, uuid));
    }

  g_assert_false (postern_uuid_is_valid (NULL));
  g_assert_false (postern_uuid_is_valid (""));
}

static void
test_address (Fixture *fixture,
              gconstpointer data)
{
  PosternChannel *channel = fixture->channel;
  g_autoptr (GError) error = NULL;

  g_assert_true (postern_channel_set_address (channel, "K7Q2MV9XWE4@CH.Example.org.", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (postern_channel_get_address (channel), ==, "K7Q2MV9XWE4@ch.example.org");

  g_assert_false (postern_channel_set_address (channel, "a%b@ch.example.org", &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "address: "));
  g_assert_cmpstr (postern_channel_get_address (channel), ==, "K7Q2MV9XWE4@ch.example.org");
}

static void
test_label_and_note (void)
{
  static const struct
  {
    const char *text;
    gboolean label_ok;
    gboolean note_ok;
  } cases[] = {
    { "Recruiter at FOSDEM", TRUE, TRUE },
    { "B\xc3\xbc"
      "cherei M\xc3\xbcller \xf0\x9f\x93\x9a",
      TRUE, TRUE },
    { "line\nbreak", FALSE, TRUE },
    { "tab\there", FALSE, TRUE },
    { "escape\x1b[31m", FALSE, FALSE },
    { "bell\a", FALSE, FALSE },
    { "c1\xc2\x85", FALSE, FALSE },
    { "para\xe2\x80\xa9sep", FALSE, FALSE },
    { "bad\xc3utf8", FALSE, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternChannel) channel = postern_channel_new ();

      g_test_message ("case %u", i);
      g_assert_true (postern_channel_set_label (channel, cases[i].text, NULL) == cases[i].label_ok);
      g_assert_true (postern_channel_set_note (channel, cases[i].text, NULL) == cases[i].note_ok);
    }
}

static void
test_label_length (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  /* The limit counts characters, not octets. */
  for (guint i = 0; i < POSTERN_CHANNEL_MAX_LABEL; i++)
    g_string_append (text, "\xc3\xbc");
  g_assert_true (postern_channel_set_label (channel, text->str, &error));
  g_assert_no_error (error);

  g_string_append_c (text, 'x');
  g_assert_false (postern_channel_set_label (channel, text->str, &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
}

static void
test_farewell_text (void)
{
  static const struct
  {
    const char *text;
    gboolean ok;
  } cases[] = {
    { "This address is closed; please use jane@example.org", TRUE },
    { "", TRUE },
    { "Line\r\n550 injected", FALSE },
    { "Tsch\xc3\xbc"
      "ss",
      FALSE },
    { "tab\tinside", FALSE },
    { "del\x7f", FALSE },
  };
  g_autoptr (GString) long_text = g_string_new (NULL);
  g_autoptr (PosternChannel) channel = postern_channel_new ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (postern_channel_set_farewell_text (channel, cases[i].text, &error) == cases[i].ok);
      if (!cases[i].ok)
        g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
    }

  for (guint i = 0; i < POSTERN_CHANNEL_MAX_FAREWELL; i++)
    g_string_append_c (long_text, 'x');
  g_assert_true (postern_channel_set_farewell_text (channel, long_text->str, NULL));
  g_string_append_c (long_text, 'x');
  g_assert_false (postern_channel_set_farewell_text (channel, long_text->str, NULL));
}

static void
test_expiry (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();

  g_assert_false (postern_channel_is_expired (channel, G_MAXINT64));
  postern_channel_set_expires_at (channel, 1000);
  g_assert_false (postern_channel_is_expired (channel, 999));
  g_assert_true (postern_channel_is_expired (channel, 1000));
  g_assert_true (postern_channel_is_expired (channel, 1001));
}

static void
changed_cb (PosternChannel *channel,
            guint *count)
{
  (*count)++;
}

static void
test_expected_senders (Fixture *fixture,
                       gconstpointer data)
{
  PosternChannel *channel = fixture->channel;
  g_autoptr (PosternSenderPattern) jane = postern_sender_pattern_parse ("jane@example.org", NULL);
  g_autoptr (PosternSenderPattern) jane_upper = postern_sender_pattern_parse ("JANE@example.org", NULL);
  g_autoptr (PosternSenderPattern) shop = postern_sender_pattern_parse ("@.shop.example", NULL);
  g_autoptr (PosternMailbox) from_jane = postern_mailbox_parse ("jane+cv@example.org", -1, NULL);
  g_autoptr (PosternMailbox) from_shop = postern_mailbox_parse ("news@mail.shop.example", -1, NULL);
  g_autoptr (PosternMailbox) stranger = postern_mailbox_parse ("x@spam.example", -1, NULL);
  g_autoptr (GError) error = NULL;
  guint changes = 0;

  g_signal_connect (channel, "expected-senders-changed", G_CALLBACK (changed_cb), &changes);

  g_assert_true (postern_channel_add_expected_sender (channel, jane, &error));
  g_assert_true (postern_channel_add_expected_sender (channel, jane_upper, &error));
  g_assert_true (postern_channel_add_expected_sender (channel, shop, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (postern_channel_get_expected_senders (channel)->len, ==, 2);
  g_assert_cmpuint (changes, ==, 2);

  g_assert_true (postern_channel_expects (channel, from_jane));
  g_assert_true (postern_channel_expects (channel, from_shop));
  g_assert_false (postern_channel_expects (channel, stranger));
  g_assert_false (postern_channel_expects (channel, NULL));

  g_assert_true (postern_channel_remove_expected_sender (channel, jane_upper));
  g_assert_false (postern_channel_remove_expected_sender (channel, jane));
  g_assert_false (postern_channel_expects (channel, from_jane));
  g_assert_cmpuint (changes, ==, 3);

  postern_channel_clear_expected_senders (channel);
  postern_channel_clear_expected_senders (channel);
  g_assert_cmpuint (postern_channel_get_expected_senders (channel)->len, ==, 0);
  g_assert_cmpuint (changes, ==, 4);
}

static void
test_expected_senders_limit (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) extra = postern_sender_pattern_parse ("one-too-many@example.org", NULL);

  for (guint i = 0; i < POSTERN_CHANNEL_MAX_SENDERS; i++)
    {
      g_autofree char *text = g_strdup_printf ("sender%u@example.org", i);
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (text, NULL);

      g_assert_true (postern_channel_add_expected_sender (channel, pattern, &error));
      g_assert_no_error (error);
    }

  g_assert_false (postern_channel_add_expected_sender (channel, extra, &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
}

static PosternChannel *
make_full_channel (void)
{
  PosternChannel *channel = postern_channel_new ();
  g_autoptr (PosternSenderPattern) a = postern_sender_pattern_parse ("jane@example.org", NULL);
  g_autoptr (PosternSenderPattern) b = postern_sender_pattern_parse ("@.shop.example", NULL);

  g_assert_true (postern_channel_set_id (channel, UUID, NULL));
  g_assert_true (postern_channel_set_address (channel, "k7q2mv9xwe4@ch.example.org", NULL));
  g_assert_true (postern_channel_set_label (channel, "Recruiter", NULL));
  g_assert_true (postern_channel_set_note (channel, "Met at the booth.\nBlue jacket.", NULL));
  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_RELATIONSHIP);
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_PAUSED);
  postern_channel_set_on_unexpected (channel, POSTERN_UNEXPECTED_HOLD);
  postern_channel_set_farewell (channel, POSTERN_FAREWELL_DROP);
  g_assert_true (postern_channel_set_farewell_text (channel, "Closed.", NULL));
  postern_channel_set_created_at (channel, 1764326853);
  postern_channel_set_expires_at (channel, 1795862853);
  postern_channel_set_revision (channel, 12);
  g_assert_true (postern_channel_add_expected_sender (channel, a, NULL));
  g_assert_true (postern_channel_add_expected_sender (channel, b, NULL));

  return channel;
}

static void
test_copy_and_equal (void)
{
  g_autoptr (PosternChannel) channel = make_full_channel ();
  g_autoptr (PosternChannel) copy = postern_channel_copy (channel);
  g_autoptr (PosternChannel) reordered = postern_channel_copy (channel);
  g_autoptr (PosternSenderPattern) a = postern_sender_pattern_parse ("jane@example.org", NULL);

  g_assert_true (postern_channel_equal (channel, copy));

  /* Expected senders are a set. */
  g_assert_true (postern_channel_remove_expected_sender (reordered, a));
  g_assert_true (postern_channel_add_expected_sender (reordered, a, NULL));
  g_assert_true (postern_channel_equal (channel, reordered));

  postern_channel_set_revision (copy, 13);
  g_assert_false (postern_channel_equal (channel, copy));
  postern_channel_set_revision (copy, 12);
  g_assert_true (postern_channel_set_note (copy, NULL, NULL));
  g_assert_false (postern_channel_equal (channel, copy));

  g_assert_finalize_object (g_steal_pointer (&copy));
  g_assert_finalize_object (g_steal_pointer (&reordered));
  g_assert_finalize_object (g_steal_pointer (&channel));
}

static void
test_properties (void)
{
  g_autoptr (PosternChannel) channel = make_full_channel ();
  g_autofree char *id = NULL;
  g_autofree char *address = NULL;
  g_autofree char *farewell_text = NULL;
  PosternChannelKind kind;
  PosternFarewell farewell;
  gint64 revision;

  g_object_get (channel,
                "id", &id,
                "address", &address,
                "kind", &kind,
                "farewell", &farewell,
                "farewell-text", &farewell_text,
                "revision", &revision,
                NULL);
  g_assert_cmpstr (id, ==, UUID);
  g_assert_cmpstr (address, ==, "k7q2mv9xwe4@ch.example.org");
  g_assert_cmpint (kind, ==, POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_assert_cmpint (farewell, ==, POSTERN_FAREWELL_DROP);
  g_assert_cmpstr (farewell_text, ==, "Closed.");
  g_assert_cmpint (revision, ==, 12);

  g_object_set (channel, "label", "Via GObject", "expires-at", (gint64)0, NULL);
  g_assert_cmpstr (postern_channel_get_label (channel), ==, "Via GObject");
  g_assert_cmpint (postern_channel_get_expires_at (channel), ==, 0);

  for (guint i = 0; i < 12; i++)
    {
      static const char *const names[] = { "id", "address", "label", "note", "kind", "state", "on-unexpected",
                                           "farewell", "farewell-text", "created-at", "expires-at", "revision" };
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (channel), names[i]);

      g_assert_nonnull (pspec);
      g_assert_true (pspec->flags & G_PARAM_EXPLICIT_NOTIFY);
    }

  g_assert_finalize_object (g_steal_pointer (&channel));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/postern/core/channel/defaults", Fixture, NULL, fixture_set_up, test_defaults, fixture_tear_down);
  g_test_add ("/postern/core/channel/notify-only-on-change", Fixture, NULL, fixture_set_up, test_notify_only_on_change, fixture_tear_down);
  g_test_add ("/postern/core/channel/refused-setter-keeps-value", Fixture, NULL, fixture_set_up, test_refused_setter_keeps_value, fixture_tear_down);
  g_test_add ("/postern/core/channel/id", Fixture, NULL, fixture_set_up, test_id, fixture_tear_down);
  g_test_add ("/postern/core/channel/address", Fixture, NULL, fixture_set_up, test_address, fixture_tear_down);
  g_test_add ("/postern/core/channel/expected-senders", Fixture, NULL, fixture_set_up, test_expected_senders, fixture_tear_down);
  g_test_add_func ("/postern/core/channel/uuid-new", test_uuid_new);
  g_test_add_func ("/postern/core/channel/label-and-note", test_label_and_note);
  g_test_add_func ("/postern/core/channel/label-length", test_label_length);
  g_test_add_func ("/postern/core/channel/farewell-text", test_farewell_text);
  g_test_add_func ("/postern/core/channel/expiry", test_expiry);
  g_test_add_func ("/postern/core/channel/expected-senders-limit", test_expected_senders_limit);
  g_test_add_func ("/postern/core/channel/copy-and-equal", test_copy_and_equal);
  g_test_add_func ("/postern/core/channel/properties", test_properties);

  return g_test_run ();
}
