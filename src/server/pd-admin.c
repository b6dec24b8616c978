/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pd-admin.h"
#include "pd-api-server.h"
#include "pd-delivery.h"
#include "pd-ingest.h"
#include "pd-smtp-server.h"
#include "pd-store.h"
#include "postern-core.h"

/* Tries at a fresh random address when one is taken (54 bits: never in
 * practice, but the store says so rather than us assuming). */
#define MAX_ADDRESS_ATTEMPTS 5

static int
fail (const char *what,
      const GError *error)
{
  g_printerr ("posternd: %s%s%s\n", what, error != NULL ? ": " : "", error != NULL ? error->message : "");
  return 1;
}

static int
usage (const char *text)
{
  g_printerr ("Usage: posternd %s\n", text);
  return 2;
}

/* Parses a subcommand's own options; leaves the positional arguments in
 * @argc/@argv (argv[0] is the subcommand). */
static gboolean
parse_options (const char *name,
               GOptionEntry *entries,
               int *argc,
               char ***argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_help_enabled (context, TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("posternd %s: %s\n", name, error->message);
      return FALSE;
    }
  return TRUE;
}

static PdStore *
open_store (PdConfig *config)
{
  g_autoptr (GError) error = NULL;
  PdStore *store;

  if (g_mkdir_with_parents (config->state_dir, 0700) != 0)
    {
      g_printerr ("posternd: cannot create %s: %s\n", config->state_dir, g_strerror (errno));
      return NULL;
    }
  store = pd_store_open (config->state_dir, &error);
  if (store == NULL)
    fail ("cannot open the store", error);
  return store;
}

/* ---- run ---- */

/* One daemon per state directory: leases, spool collection and the
 * delivery queue all assume no other process works on the same store.
 * The lock is held until the process exits (the fd is never closed), and
 * the kernel drops it when the process dies, kill -9 included. */
static gboolean
lock_state_dir (PdConfig *config)
{
  g_autofree char *path = g_build_filename (config->state_dir, "posternd.lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      g_printerr ("posternd: cannot open %s: %s\n", path, g_strerror (errno));
      return FALSE;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;

      close (fd);
      if (saved_errno == EWOULDBLOCK)
        g_printerr ("posternd: another posternd is already running on %s\n", config->state_dir);
      else
        g_printerr ("posternd: cannot lock %s: %s\n", path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

int
pd_admin_run (PdConfig *config,
              int argc,
              char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdStore) store = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (PdIngest) ingest = NULL;
  g_autoptr (PdSmtpServer) smtp = NULL;
  g_autoptr (PdApiServer) api = NULL;
  g_autoptr (PdDeliveryQueue) delivery = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  guint term_id, int_id;

  if (argc > 1)
    return usage ("[--config FILE] run");

  store = open_store (config);
  if (store == NULL || !lock_state_dir (config))
    return 1;
  certificate = pd_config_load_tls_certificate (config, &error);
  if (certificate == NULL && error != NULL)
    return fail ("TLS", error);

  ingest = pd_ingest_new (store);
  /* The delivery queue takes bounces of forwarded mail, ingest the rest. */
  delivery = pd_delivery_queue_new (config, store, &error);
  if (delivery == NULL)
    return fail ("cannot start the delivery queue", error);
  pd_delivery_queue_set_inner_backend (delivery, pd_ingest_get_backend (), ingest);
  smtp = pd_smtp_server_new (config, certificate, pd_delivery_queue_get_backend (), delivery);
  if (!pd_smtp_server_listen (smtp, &error))
    return fail ("cannot listen", error);

  /* Other services (the HTTPS API, the delivery queue) start here, on
   * the same main context and store. */
  if ((api = pd_api_server_start (config, store, &error)) == NULL)
    return fail ("cannot start the HTTPS API", error);

  loop = g_main_loop_new (NULL, FALSE);
  term_id = g_unix_signal_add (SIGTERM, quit_cb, loop);
  int_id = g_unix_signal_add (SIGINT, quit_cb, loop);
  pd_delivery_queue_start (delivery);
  g_message ("posternd %s ready (state in %s)", PACKAGE_VERSION, config->state_dir);
  g_main_loop_run (loop);
  g_message ("posternd stopping: %" G_GUINT64_FORMAT " messages committed in %" G_GUINT64_FORMAT " transactions",
             pd_store_get_committed_messages (store), pd_store_get_commit_batches (store));
  g_source_remove (term_id);
  g_source_remove (int_id);

  pd_smtp_server_stop (smtp);
  pd_delivery_queue_stop (delivery);
  /* Let the commits under way finish and their sessions close. */
  for (guint spins = 0; spins < 1000 && g_main_context_iteration (NULL, FALSE); spins++)
    ;
  return 0;
}

/* ---- user ---- */

static int
user_add (PdConfig *config,
          PdStore *store,
          int argc,
          char **argv)
{
  g_autofree char *maildir = NULL;
  g_autofree char *forward_to = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdUser) user = NULL;
  GOptionEntry entries[] = {
    { "maildir", 0, 0, G_OPTION_ARG_FILENAME, &maildir, "Deliver into this Maildir (absolute path)", "DIR" },
    { "forward-to", 0, 0, G_OPTION_ARG_STRING, &forward_to, "Forward to this address", "ADDRESS" },
    { NULL }
  };

  if (!parse_options ("user add", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage ("user add NAME [--maildir DIR] [--forward-to ADDRESS]");

  /* Forwarding into one of our own channel domains would loop until the
   * Received: limit stops it; refuse it here, where the operator sees why. */
  if (forward_to != NULL)
    {
      g_autoptr (PosternMailbox) target = postern_mailbox_parse (forward_to, -1, NULL);

      if (target != NULL && pd_config_has_domain (config, target->domain))
        {
          g_printerr ("posternd: cannot add the user: %s is in a channel domain of this server; mail forwarded there would loop\n",
                      forward_to);
          return 1;
        }
    }

  user = pd_store_add_user (store, argv[1], maildir, forward_to, &error);
  if (user == NULL)
    return fail ("cannot add the user", error);
  /* Allowed (events only: the leak alerts without the mail), but rarely
   * what an operator means. */
  if (maildir == NULL && forward_to == NULL)
    g_printerr ("posternd: note: %s has no delivery target (--maildir, --forward-to): mail to their "
                "channels is recorded as events, answered 250, and not kept, held mail included\n",
                user->name);
  g_print ("%s\n", user->name);
  return 0;
}

static int
user_list (PdStore *store,
           int argc,
           char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = NULL;

  if (argc != 1)
    return usage ("user list");
  users = pd_store_list_users (store, &error);
  if (users == NULL)
    return fail ("cannot list users", error);
  for (guint i = 0; i < users->len; i++)
    {
      PdUser *user = g_ptr_array_index (users, i);

      g_print ("%s\t%s\t%s\n", user->name, user->maildir != NULL ? user->maildir : "-",
               user->forward_to != NULL ? user->forward_to : "-");
    }
  return 0;
}

static int
user_remove (PdStore *store,
             int argc,
             char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc != 2)
    return usage ("user remove NAME");
  if (!pd_store_remove_user (store, argv[1], &error))
    return fail ("cannot remove the user", error);
  return 0;
}

int
pd_admin_user (PdConfig *config,
               int argc,
               char **argv)
{
  g_autoptr (PdStore) store = NULL;
  const char *verb = argc > 1 ? argv[1] : "";

  if (!g_str_equal (verb, "add") && !g_str_equal (verb, "list") && !g_str_equal (verb, "remove"))
    return usage ("user add|list|remove ...");
  store = open_store (config);
  if (store == NULL)
    return 1;
  if (g_str_equal (verb, "add"))
    return user_add (config, store, argc - 1, argv + 1);
  if (g_str_equal (verb, "list"))
    return user_list (store, argc - 1, argv + 1);
  return user_remove (store, argc - 1, argv + 1);
}

/* ---- channel ---- */

static void
print_channel (PosternChannel *channel,
               const char *user)
{
  g_autoptr (GString) senders = g_string_new (NULL);
  GPtrArray *expected = postern_channel_get_expected_senders (channel);

  for (guint i = 0; i < expected->len; i++)
    {
      g_autofree char *text = postern_sender_pattern_to_string (g_ptr_array_index (expected, i));

      if (senders->len > 0)
        g_string_append_c (senders, ',');
      g_string_append (senders, text);
    }
  g_print ("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", postern_channel_get_address (channel), postern_channel_get_id (channel),
           user, postern_channel_kind_to_string (postern_channel_get_kind (channel)),
           postern_channel_state_to_string (postern_channel_get_state (channel)),
           postern_unexpected_policy_to_string (postern_channel_get_on_unexpected (channel)),
           senders->len > 0 ? senders->str : "-", postern_channel_get_label (channel) != NULL ? postern_channel_get_label (channel) : "");
}

static int
channel_add (PdConfig *config,
             PdStore *store,
             int argc,
             char **argv)
{
  g_autofree char *label = NULL;
  g_autofree char *kind_text = NULL;
  g_autofree char *policy_text = NULL;
  g_autofree char *farewell_text_kind = NULL;
  g_autofree char *farewell_text = NULL;
  g_autofree char *domain_text = NULL;
  g_autofree char *style_text = NULL;
  g_autofree char *local_part = NULL;
  g_auto (GStrv) expected = NULL;
  gint64 expires_at = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (PosternChannel) stored = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *id = postern_uuid_new ();
  PosternChannelKind kind = POSTERN_CHANNEL_KIND_RELATIONSHIP;
  PosternUnexpectedPolicy policy = POSTERN_UNEXPECTED_ALERT;
  PosternFarewell farewell = POSTERN_FAREWELL_REFUSE;
  PosternAddressStyle style = POSTERN_ADDRESS_STYLE_RANDOM;
  GOptionEntry entries[] = {
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "Who the address is for", "TEXT" },
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind_text, "one-time, relationship (default) or open", "KIND" },
    { "on-unexpected", 0, 0, G_OPTION_ARG_STRING, &policy_text, "alert (default), hold or reject", "POLICY" },
    { "farewell", 0, 0, G_OPTION_ARG_STRING, &farewell_text_kind, "refuse (default) or drop", "FAREWELL" },
    { "farewell-text", 0, 0, G_OPTION_ARG_STRING, &farewell_text, "What senders are told once it is revoked", "TEXT" },
    { "expect", 0, 0, G_OPTION_ARG_STRING_ARRAY, &expected, "An expected sender: name@domain, @domain or @.domain (repeatable)", "PATTERN" },
    { "expires-at", 0, 0, G_OPTION_ARG_INT64, &expires_at, "Expiry, unix seconds", "SECONDS" },
    { "domain", 0, 0, G_OPTION_ARG_STRING, &domain_text, "One of the configured domains (default: the first)", "DOMAIN" },
    { "style", 0, 0, G_OPTION_ARG_STRING, &style_text, "Generated local part: random (default) or words", "STYLE" },
    { "local-part", 0, 0, G_OPTION_ARG_STRING, &local_part, "Use this local part instead of a generated one", "LOCAL" },
    { NULL }
  };

  if (!parse_options ("channel add", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage ("channel add USER [--label TEXT] [--kind KIND] [--on-unexpected POLICY] [--expect PATTERN]... "
                  "[--farewell refuse|drop] [--farewell-text TEXT] [--expires-at SECONDS] [--domain DOMAIN] "
                  "[--style random|words] [--local-part LOCAL]");

  if ((kind_text != NULL && !postern_channel_kind_from_string (kind_text, &kind, &error)) || (policy_text != NULL && !postern_unexpected_policy_from_string (policy_text, &policy, &error)) || (farewell_text_kind != NULL && !postern_farewell_from_string (farewell_text_kind, &farewell, &error)) || (style_text != NULL && !postern_address_style_from_string (style_text, &style, &error)))
    return fail ("invalid option", error);

  if (domain_text != NULL)
    {
      domain = postern_domain_normalize (domain_text, &error);
      if (domain == NULL)
        return fail ("invalid domain", error);
      if (!pd_config_has_domain (config, domain))
        {
          g_printerr ("posternd: %s is not one of the configured domains\n", domain);
          return 1;
        }
    }
  else
    domain = g_strdup (config->domains[0]);

  user = pd_store_lookup_user (store, argv[1], &error);
  if (user == NULL)
    return fail ("no such user", error);

  if (!postern_channel_set_id (channel, id, &error) || (label != NULL && !postern_channel_set_label (channel, label, &error)) || (farewell_text != NULL && !postern_channel_set_farewell_text (channel, farewell_text, &error)))
    return fail ("invalid channel", error);
  postern_channel_set_kind (channel, kind);
  postern_channel_set_on_unexpected (channel, policy);
  postern_channel_set_farewell (channel, farewell);
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_ACTIVE);
  postern_channel_set_expires_at (channel, expires_at);
  for (guint i = 0; expected != NULL && expected[i] != NULL; i++)
    {
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (expected[i], &error);

      if (pattern == NULL || !postern_channel_add_expected_sender (channel, pattern, &error))
        return fail ("invalid expected sender", error);
    }

  for (guint attempt = 0; attempt < MAX_ADDRESS_ATTEMPTS; attempt++)
    {
      g_autofree char *local = local_part != NULL ? g_ascii_strdown (local_part, -1)
                                                  : postern_address_generate_local_part (style);
      g_autofree char *address = g_strdup_printf ("%s@%s", local, domain);

      g_clear_error (&error);
      if (!postern_channel_set_address (channel, address, &error))
        return fail ("invalid address", error);
      stored = pd_store_create_channel (store, user->id, channel, &error);
      if (stored != NULL || local_part != NULL || !g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS))
        break;
    }
  if (stored == NULL)
    return fail ("cannot create the channel", error);
  print_channel (stored, user->name);
  return 0;
}

static int
channel_list (PdStore *store,
              int argc,
              char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = NULL;

  if (argc > 2)
    return usage ("channel list [USER]");
  users = pd_store_list_users (store, &error);
  if (users == NULL)
    return fail ("cannot list users", error);
  for (guint i = 0; i < users->len; i++)
    {
      PdUser *user = g_ptr_array_index (users, i);
      g_autoptr (GPtrArray) channels = NULL;

      if (argc == 2 && !g_str_equal (user->name, argv[1]))
        continue;
      channels = pd_store_list_channels (store, user->id, 0, NULL, &error);
      if (channels == NULL)
        return fail ("cannot list channels", error);
      for (guint j = 0; j < channels->len; j++)
        print_channel (g_ptr_array_index (channels, j), user->name);
    }
  return 0;
}

static int
channel_set_state (PdStore *store,
                   int argc,
                   char **argv)
{
  g_autofree char *farewell_text = NULL;
  g_autofree char *farewell_kind = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternChannel) copy = NULL;
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autofree char *address = NULL;
  const char *verb = argv[0];
  gint64 user_id = 0;
  PosternFarewell farewell;
  GOptionEntry entries[] = {
    { "farewell", 0, 0, G_OPTION_ARG_STRING, &farewell_kind, "revoke: refuse or drop", "FAREWELL" },
    { "farewell-text", 0, 0, G_OPTION_ARG_STRING, &farewell_text, "revoke: what senders are told", "TEXT" },
    { NULL }
  };

  if (!parse_options (verb, entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage ("channel pause|resume|revoke ADDRESS [--farewell refuse|drop] [--farewell-text TEXT]");

  address = g_ascii_strdown (argv[1], -1);
  channel = pd_store_lookup_channel (store, address, &user_id, &error);
  if (channel == NULL)
    {
      if (error == NULL)
        g_printerr ("posternd: no channel %s\n", address);
      return error != NULL ? fail ("lookup failed", error) : 1;
    }

  copy = postern_channel_copy (channel);
  if (g_str_equal (verb, "pause"))
    postern_channel_set_state (copy, POSTERN_CHANNEL_STATE_PAUSED);
  else if (g_str_equal (verb, "resume"))
    postern_channel_set_state (copy, POSTERN_CHANNEL_STATE_ACTIVE);
  else
    postern_channel_set_state (copy, POSTERN_CHANNEL_STATE_REVOKED);
  if (farewell_kind != NULL)
    {
      if (!postern_farewell_from_string (farewell_kind, &farewell, &error))
        return fail ("invalid option", error);
      postern_channel_set_farewell (copy, farewell);
    }
  if (farewell_text != NULL && !postern_channel_set_farewell_text (copy, farewell_text, &error))
    return fail ("invalid farewell text", error);

  /* At the revision read: a change meanwhile (a one-time channel binding
   * its sender) is not overwritten, it makes this fail. */
  stored = pd_store_update_channel (store, user_id, copy, postern_channel_get_revision (channel), &error);
  if (stored == NULL)
    return fail (g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_CONFLICT) ? "the channel changed meanwhile, try again" : "cannot update the channel", error);
  user = pd_store_get_user (store, user_id, NULL);
  print_channel (stored, user != NULL ? user->name : "-");
  return 0;
}

int
pd_admin_channel (PdConfig *config,
                  int argc,
                  char **argv)
{
  g_autoptr (PdStore) store = NULL;
  const char *verb = argc > 1 ? argv[1] : "";
  gboolean state_verb = g_str_equal (verb, "pause") || g_str_equal (verb, "resume") || g_str_equal (verb, "revoke");

  if (!g_str_equal (verb, "add") && !g_str_equal (verb, "list") && !state_verb)
    return usage ("channel add|list|pause|resume|revoke ...");
  store = open_store (config);
  if (store == NULL)
    return 1;
  if (g_str_equal (verb, "add"))
    return channel_add (config, store, argc - 1, argv + 1);
  if (g_str_equal (verb, "list"))
    return channel_list (store, argc - 1, argv + 1);
  return channel_set_state (store, argc - 1, argv + 1);
}

/* ---- block ---- */

static int
block_add (PdStore *store,
           PdUser *user,
           int argc,
           char **argv)
{
  g_autofree char *channel_address = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternBlockEntry) entry = NULL;
  g_autofree char *text = NULL;
  GOptionEntry entries[] = {
    { "channel", 0, 0, G_OPTION_ARG_STRING, &channel_address, "Only for this channel (default: all)", "ADDRESS" },
    { NULL }
  };

  if (!parse_options ("block add", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return usage ("block add USER PATTERN [--channel ADDRESS]");

  pattern = postern_sender_pattern_parse (argv[1], &error);
  if (pattern == NULL)
    return fail ("invalid pattern", error);
  if (channel_address != NULL)
    {
      g_autofree char *address = g_ascii_strdown (channel_address, -1);
      gint64 owner = 0;

      channel = pd_store_lookup_channel (store, address, &owner, &error);
      if (channel == NULL || owner != user->id)
        {
          g_printerr ("posternd: %s is not a channel of %s\n", address, user->name);
          return 1;
        }
    }
  entry = pd_store_add_block (store, user->id, pattern, channel != NULL ? postern_channel_get_id (channel) : NULL, &error);
  if (entry == NULL)
    return fail ("cannot add the block", error);
  text = postern_sender_pattern_to_string (entry->pattern);
  g_print ("%" G_GINT64_FORMAT "\t%s\t%s\n", entry->id, text, channel != NULL ? postern_channel_get_address (channel) : "*");
  return 0;
}

static int
block_list (PdStore *store,
            PdUser *user,
            int argc,
            char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) blocks = NULL;

  if (argc != 1)
    return usage ("block list USER");
  blocks = pd_store_list_blocks (store, user->id, &error);
  if (blocks == NULL)
    return fail ("cannot list blocks", error);
  for (guint i = 0; i < blocks->len; i++)
    {
      PosternBlockEntry *entry = g_ptr_array_index (blocks, i);
      g_autofree char *text = postern_sender_pattern_to_string (entry->pattern);
      g_autoptr (PosternChannel) channel = NULL;

      if (entry->channel_id != NULL)
        channel = pd_store_get_channel (store, user->id, entry->channel_id, NULL);
      g_print ("%" G_GINT64_FORMAT "\t%s\t%s\n", entry->id, text,
               channel != NULL ? postern_channel_get_address (channel) : entry->channel_id != NULL ? entry->channel_id
                                                                                                   : "*");
    }
  return 0;
}

static int
block_remove (PdStore *store,
              PdUser *user,
              int argc,
              char **argv)
{
  g_autoptr (GError) error = NULL;
  guint64 id = 0;

  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXINT64, &id, NULL))
    return usage ("block remove USER ID");
  if (!pd_store_remove_block (store, user->id, (gint64)id, &error))
    return fail ("cannot remove the block", error);
  return 0;
}

int
pd_admin_block (PdConfig *config,
                int argc,
                char **argv)
{
  g_autoptr (PdStore) store = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (GError) error = NULL;
  const char *verb = argc > 1 ? argv[1] : "";
  char **rest;
  int n_rest;

  if ((!g_str_equal (verb, "add") && !g_str_equal (verb, "list") && !g_str_equal (verb, "remove")) || argc < 3)
    return usage ("block add|list|remove USER ...");
  store = open_store (config);
  if (store == NULL)
    return 1;
  user = pd_store_lookup_user (store, argv[2], &error);
  if (user == NULL)
    return fail ("no such user", error);

  /* The verb stands as argv[0] for the option parser; USER is consumed. */
  rest = g_new0 (char *, argc);
  rest[0] = argv[1];
  for (int i = 3; i < argc; i++)
    rest[i - 2] = argv[i];
  n_rest = argc - 2;
  {
    g_autofree char **hold = rest;
    int status;

    if (g_str_equal (verb, "add"))
      status = block_add (store, user, n_rest, rest);
    else if (g_str_equal (verb, "list"))
      status = block_list (store, user, n_rest, rest);
    else
      status = block_remove (store, user, n_rest, rest);
    return status;
  }
}
