/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-channel-store.h"

#define ID_A "0b5c3a8e-7d2f-4c1a-9e6b-1f2a3b4c5d6e"
#define ID_B "1c6d4b9f-8e3a-4d2b-8f7c-2a3b4c5d6e7f"
#define ID_C "2d7e5ca0-9f4b-4e3c-a08d-3b4c5d6e7f80"

static const char *channels_json = "["
                                   "{\"id\":\"" ID_A "\",\"address\":\"k7q2mv9x@ch.example.org\",\"label\":\"Recruiter, FOSDEM\","
                                   " \"note\":\"\",\"kind\":\"one-time\",\"state\":\"active\",\"on_unexpected\":\"alert\","
                                   " \"farewell\":\"refuse\",\"farewell_text\":\"\",\"created_at\":\"2026-11-01T10:00:00Z\","
                                   " \"expires_at\":null,\"revision\":1,\"expected_senders\":[\"jane@acme.example\"]},"
                                   "{\"id\":\"" ID_B "\",\"address\":\"p3x8wq2z@ch.example.org\",\"label\":\"Bike shop\","
                                   " \"note\":\"\",\"kind\":\"relationship\",\"state\":\"paused\",\"on_unexpected\":\"alert\","
                                   " \"farewell\":\"refuse\",\"farewell_text\":\"\",\"created_at\":\"2026-11-03T10:00:00Z\","
                                   " \"expires_at\":null,\"revision\":2,\"expected_senders\":[\"@.velo.example\"]},"
                                   "{\"id\":\"" ID_C "\",\"address\":\"z9m4kd7r@ch.example.org\",\"label\":\"Newsletter\","
                                   " \"note\":\"\",\"kind\":\"open\",\"state\":\"revoked\",\"on_unexpected\":\"alert\","
                                   " \"farewell\":\"refuse\",\"farewell_text\":\"\",\"created_at\":\"2026-11-02T10:00:00Z\","
                                   " \"expires_at\":null,\"revision\":3,\"expected_senders\":[]}"
                                   "]";

static PosternChannelStore *
new_loaded_store (void)
{
  g_autoptr (GError) error = NULL;
  PosternChannelStore *store = postern_channel_store_new ();

  g_assert_true (postern_channel_store_load_channels (store, channels_json, &error));
  g_assert_no_error (error);
  return store;
}

/* The ids of the visible rows, in order, joined by spaces. */
static char *
visible_ids (PosternChannelStore *store)
{
  GListModel *model = postern_channel_store_get_model (store);
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PosternChannelItem) item = g_list_model_get_item (model, i);
      const char *id = postern_channel_item_get_id (item);

      if (out->len > 0)
        g_string_append_c (out, ' ');
      /* The first letter of the label is enough to tell them apart. */
      g_string_append_c (out, g_str_equal (id, ID_A) ? 'A' : g_str_equal (id, ID_B) ? 'B'
                                                         : g_str_equal (id, ID_C)   ? 'C'
                                                                                    : '?');
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_load_sorted (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  g_autofree char *ids = visible_ids (store);

  /* Newest activity (here: creation) first. */
  g_assert_cmpstr (ids, ==, "B C A");
  g_assert_nonnull (postern_channel_store_lookup (store, ID_A));
  g_assert_null (postern_channel_store_lookup (store, "nope"));
  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_search (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  struct
  {
    const char *search;
    const char *ids;
  } cases[] = {
    { "recruiter", "A" },           /* label, case folded */
    { "FOSDEM", "A" },              /* label */
    { "p3x8", "B" },                /* address */
    { "@ch.example.org", "B C A" }, /* every address */
    { "acme", "A" },                /* expected sender */
    { "velo.example", "B" },        /* expected sender pattern */
    { "nothing like this", "" },    /* no match */
    { "", "B C A" },                /* cleared */
    { "  ", "B C A" },              /* blank */
    { "o", "B C A" },               /* letters in all three */
    { "newsl", "C" },               /* narrowing from "o" */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *ids = NULL;

      postern_channel_store_set_search (store, cases[i].search);
      ids = visible_ids (store);
      g_assert_cmpstr (ids, ==, cases[i].ids);
    }

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_filter (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ids = NULL;

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ACTIVE);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "A");
  g_clear_pointer (&ids, g_free);

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_PAUSED);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "B");
  g_clear_pointer (&ids, g_free);

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_REVOKED);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "C");
  g_clear_pointer (&ids, g_free);

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ALERTS);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);

  /* An unexpected event on A: it now has an alert and shows. */
  g_assert_true (postern_channel_store_load_events (store,
                                                    "[{\"id\":7,\"channel_id\":\"" ID_A "\","
                                                    "\"received_at\":\"2026-11-20T10:00:00Z\","
                                                    "\"envelope_sender\":\"spam@bulk.example\","
                                                    "\"header_from\":\"Spam <spam@bulk.example>\","
                                                    "\"subject\":\"Offer\",\"message_id\":\"<x@bulk.example>\","
                                                    "\"size\":2048,\"verdict\":\"unexpected\"}]",
                                                    G_MAXUINT, &error));
  g_assert_no_error (error);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "A");
  g_clear_pointer (&ids, g_free);

  /* Reading it hides it from the alerts filter again. */
  postern_channel_store_mark_read (store, postern_channel_store_lookup (store, ID_A));
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ALL);
  ids = visible_ids (store);
  /* The event made A the most recently active channel. */
  g_assert_cmpstr (ids, ==, "A B C");

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_events (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ids = NULL;
  const char *events = "{\"events\":["
                       "{\"id\":9,\"channel_id\":\"" ID_C "\",\"received_at\":\"2026-11-21T10:00:00Z\","
                       " \"envelope_sender\":\"x@leak.example\",\"header_from\":null,\"subject\":\"a\","
                       " \"message_id\":\"<9@x>\",\"size\":1,\"verdict\":\"unexpected\"},"
                       "{\"id\":8,\"channel_id\":\"" ID_C "\",\"received_at\":\"2026-11-20T10:00:00Z\","
                       " \"envelope_sender\":\"y@leak.example\",\"header_from\":null,\"subject\":\"b\","
                       " \"message_id\":\"<8@x>\",\"size\":1,\"verdict\":\"unexpected\"},"
                       "{\"id\":5,\"channel_id\":\"" ID_B "\",\"received_at\":\"2026-11-10T10:00:00Z\","
                       " \"envelope_sender\":\"shop@velo.example\",\"header_from\":null,\"subject\":\"c\","
                       " \"message_id\":\"<5@x>\",\"size\":1,\"verdict\":\"expected\"},"
                       "{\"id\":4,\"channel_id\":\"99999999-9999-4999-8999-999999999999\",\"received_at\":\"2026-11-10T10:00:00Z\","
                       " \"envelope_sender\":\"gone@x.example\",\"header_from\":null,\"subject\":\"d\","
                       " \"message_id\":\"<4@x>\",\"size\":1,\"verdict\":\"unexpected\"}"
                       "]}";

  /* Only the newest alert counts as unread (the agent said one). */
  g_assert_true (postern_channel_store_load_events (store, events, 1, &error));
  g_assert_no_error (error);

  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "C B A");
  g_clear_pointer (&ids, g_free);
  g_assert_cmpuint (postern_channel_item_get_unread_alerts (postern_channel_store_lookup (store, ID_C)), ==, 1);
  g_assert_cmpuint (postern_channel_item_get_unread_alerts (postern_channel_store_lookup (store, ID_B)), ==, 0);

  /* Senders seen in events are searchable. */
  postern_channel_store_set_search (store, "leak.example");
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "C");

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_upsert (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ids = NULL;
  PosternChannelItem *before = postern_channel_store_lookup (store, ID_A);
  PosternChannelItem *after;

  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ACTIVE);
  after = postern_channel_store_load_channel (store,
                                              "{\"id\":\"" ID_A "\",\"address\":\"k7q2mv9x@ch.example.org\","
                                              "\"label\":\"Recruiter\",\"kind\":\"one-time\",\"state\":\"revoked\","
                                              "\"created_at\":\"2026-11-01T10:00:00Z\",\"revision\":5}",
                                              &error);
  g_assert_no_error (error);
  /* The same row object, updated in place: selection and rows stay. */
  g_assert_true (after == before);
  /* Still found by id after its channel snapshot (and id string) changed. */
  g_assert_true (postern_channel_store_lookup (store, ID_A) == after);
  g_assert_cmpstr (postern_channel_item_get_label (after), ==, "Recruiter");
  g_assert_cmpint (postern_channel_item_get_state (after), ==, POSTERN_CHANNEL_STATE_REVOKED);
  ids = visible_ids (store);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);

  /* A new channel is appended. */
  postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ALL);
  g_assert_nonnull (postern_channel_store_load_channel (store,
                                                        "{\"id\":\"33333333-3333-4333-8333-333333333333\","
                                                        "\"address\":\"new1new1@ch.example.org\",\"label\":\"New\","
                                                        "\"kind\":\"one-time\",\"state\":\"active\","
                                                        "\"created_at\":\"2026-11-25T10:00:00Z\",\"revision\":6}",
                                                        &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (postern_channel_store_get_model (store)), ==, 4);

  /* Invalid input is refused with an error, the store unchanged. */
  g_assert_null (postern_channel_store_load_channel (store, "{\"id\":\"x\"", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_null (postern_channel_store_load_channel (store, "{\"id\":\"" ID_B "\",\"kind\":\"weird\"}", &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
  g_clear_error (&error);
  g_assert_false (postern_channel_store_load_channels (store, "{\"nope\":1}", &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
  g_assert_cmpuint (g_list_model_get_n_items (postern_channel_store_get_model (store)), ==, 4);

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_bad_record_skipped (void)
{
  g_autoptr (PosternChannelStore) store = postern_channel_store_new ();
  g_autoptr (GError) error = NULL;

  /* One broken channel must not hide the others. */
  g_test_expect_message ("Postern", G_LOG_LEVEL_WARNING, "Ignoring a channel the agent sent*");
  g_assert_true (postern_channel_store_load_channels (store,
                                                      "[{\"id\":\"" ID_A "\",\"address\":\"a@ch.example.org\","
                                                      "\"label\":\"ok\",\"kind\":\"one-time\",\"state\":\"active\"},"
                                                      "{\"id\":\"" ID_B "\",\"address\":\"not an address\","
                                                      "\"label\":\"bad\",\"kind\":\"one-time\",\"state\":\"active\"}]",
                                                      &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (postern_channel_store_get_model (store)), ==, 1);

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_pending_and_status (void)
{
  g_autoptr (PosternChannelStore) store = new_loaded_store ();
  g_autoptr (GError) error = NULL;
  GVariantDict dict;

  g_assert_true (postern_channel_store_load_pending (store,
                                                     "[{\"op\":\"revoke\",\"channel_id\":\"" ID_B "\","
                                                     "\"queued_at\":\"2026-11-28T10:00:00Z\"}]",
                                                     &error));
  g_assert_no_error (error);
  g_assert_true (postern_channel_item_get_pending (postern_channel_store_lookup (store, ID_B)));
  g_assert_false (postern_channel_item_get_pending (postern_channel_store_lookup (store, ID_A)));

  g_assert_true (postern_channel_store_load_pending (store, "[]", &error));
  g_assert_false (postern_channel_item_get_pending (postern_channel_store_lookup (store, ID_B)));

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "paired", "b", TRUE);
  g_variant_dict_insert (&dict, "connection", "s", "offline");
  g_variant_dict_insert (&dict, "server", "s", "https://127.0.0.1:8443");
  g_variant_dict_insert (&dict, "pending", "u", 3);
  g_variant_dict_insert (&dict, "fingerprint", "s", "AB:CD");
  postern_channel_store_load_status (store, g_variant_dict_end (&dict));

  g_assert_true (postern_channel_store_get_paired (store));
  g_assert_cmpstr (postern_channel_store_get_connection (store), ==, "offline");
  g_assert_cmpstr (postern_channel_store_get_server (store), ==, "https://127.0.0.1:8443");
  g_assert_cmpstr (postern_channel_store_get_fingerprint (store), ==, "AB:CD");
  g_assert_cmpuint (postern_channel_store_get_pending (store), ==, 3);

  g_assert_finalize_object (g_steal_pointer (&store));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/app/channel-store/load-sorted", test_load_sorted);
  g_test_add_func ("/postern/app/channel-store/search", test_search);
  g_test_add_func ("/postern/app/channel-store/filter", test_filter);
  g_test_add_func ("/postern/app/channel-store/events", test_events);
  g_test_add_func ("/postern/app/channel-store/upsert", test_upsert);
  g_test_add_func ("/postern/app/channel-store/bad-record-skipped", test_bad_record_skipped);
  g_test_add_func ("/postern/app/channel-store/pending-and-status", test_pending_and_status);

  return g_test_run ();
}
