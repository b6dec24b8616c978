/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd-delivery.h"
#include "pd-dsn.h"
#include "pd-forward.h"
#include "pd-maildir.h"

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (pd-delivery-error-quark, pd_delivery_error)
// clang-format on

/* A row whose message failed for good but whose DSN is still to be
 * handed over carries this in last_error, then "STATUS CODE REASON". */
#define DSN_PENDING_PREFIX "dsn-pending: "
/* Rows in flight per worker thread (fetched ahead, leased). */
#define ROWS_PER_WORKER 4
/* After a store error, look again this much later. */
#define STORE_RETRY_SECONDS 30
/* The longest a timer is armed for; it is armed again then. */
#define MAX_TIMER_SECONDS (24 * 3600)
/* Results recorded in one transaction at most, and how long the first
 * waits for others. */
#define FLUSH_ROWS     32
#define FLUSH_DELAY_MS 50
/* Milliseconds a run waits for other wake-ups to join it. */
#define RUN_DELAY_MS 10
/* Octets of the last server reply line kept for last_error. */
#define REPLY_MAX 512
/* Octets of a bounce we read to attribute it. */
#define BOUNCE_SCAN_MAX (64 * 1024)
/* Password file size bound. */
#define PASSWORD_MAX 1024
/* Seconds to wait for the reply to QUIT when a connection closes. */
#define QUIT_TIMEOUT 2
/* Seconds to connect to the smarthost. */
#define CONNECT_TIMEOUT 30

#define BOUNCES_KEY "pd-delivery-bounces"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static const char *const delivery_keys[] = {
  "smarthost", "port", "tls", "ca_file", "username", "password_file",
  "bounce_domain", "bounce_secret_file", "max_lifetime", "retry_base",
  "retry_max", "concurrency", "timeout", "paused", NULL
};

void
pd_delivery_config_free (PdDeliveryConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->smarthost);
  g_free (config->ca_file);
  g_free (config->username);
  if (config->password != NULL)
    {
      memset (config->password, 0, strlen (config->password));
      g_free (config->password);
    }
  g_free (config->helo);
  g_free (config->bounce_domain);
  g_free (config->bounce_secret_file);
  g_strfreev (config->domains);
  g_free (config->state_dir);
  g_free (config);
}

gboolean
pd_delivery_parse_duration (const char *text,
                            gint64 *out_seconds)
{
  guint64 value = 0;
  guint64 unit = 1;
  char *end = NULL;

  g_return_val_if_fail (out_seconds != NULL, FALSE);

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  if (end == text || value > G_MAXINT32)
    return FALSE;
  switch (*end)
    {
      case '\0':
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 24 * 3600;
        break;
      default:
        return FALSE;
    }
  if (*end != '\0' && end[1] != '\0')
    return FALSE;
  *out_seconds = (gint64)(value * unit);
  return TRUE;
}

static gboolean
config_error (GError **error,
              const char *format,
              ...) G_GNUC_PRINTF (2, 3);

static gboolean
config_error (GError **error,
              const char *format,
              ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PD_DELIVERY_ERROR, PD_DELIVERY_ERROR_CONFIG, "[delivery] %s", message);
  return FALSE;
}

static char *
get_key (GKeyFile *keyfile,
         const char *key)
{
  g_autofree char *value = g_key_file_get_string (keyfile, "delivery", key, NULL);

  if (value == NULL)
    return NULL;
  g_strstrip (value);
  return *value != '\0' ? g_steal_pointer (&value) : NULL;
}

static gboolean
get_duration (GKeyFile *keyfile,
              const char *key,
              gint64 min,
              gint64 *inout,
              GError **error)
{
  g_autofree char *text = get_key (keyfile, key);

  if (text == NULL)
    return TRUE;
  if (!pd_delivery_parse_duration (text, inout) || *inout < min)
    return config_error (error, "%s must be a duration of at least %" G_GINT64_FORMAT " seconds (300, 30s, 5m, 4h, 5d)", key, min);
  return TRUE;
}

static gboolean
get_number (GKeyFile *keyfile,
            const char *key,
            guint min,
            guint max,
            guint *inout,
            GError **error)
{
  g_autofree char *text = get_key (keyfile, key);
  guint64 value = 0;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &value, NULL))
    return config_error (error, "%s must be a whole number from %u to %u", key, min, max);
  *inout = (guint)value;
  return TRUE;
}

/* The password: the file's first line, from a file only we can read. */
static char *
read_password (const char *path,
               GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  struct stat st;
  char *nl;

  if (g_stat (path, &st) != 0)
    {
      config_error (error, "password_file %s: %s", path, g_strerror (errno));
      return NULL;
    }
  if (!S_ISREG (st.st_mode) || (st.st_mode & 0077) != 0)
    {
      config_error (error, "password_file %s must be a regular file readable by posternd only (chmod 600)", path);
      return NULL;
    }
  if (st.st_size > PASSWORD_MAX || !g_file_get_contents (path, &contents, &length, NULL))
    {
      config_error (error, "password_file %s cannot be read (or is over %d octets)", path, PASSWORD_MAX);
      return NULL;
    }
  if (memchr (contents, '\0', length) != NULL)
    {
      config_error (error, "password_file %s holds a NUL octet", path);
      return NULL;
    }
  nl = strpbrk (contents, "\r\n");
  if (nl != NULL)
    *nl = '\0';
  return g_steal_pointer (&contents);
}

static gboolean
is_loopback_host (const char *host)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (host);

  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  return address != NULL && g_inet_address_get_is_loopback (address);
}

PdDeliveryConfig *
pd_delivery_config_load (PdConfig *config,
                         GError **error)
{
  g_autoptr (PdDeliveryConfig) delivery = g_new0 (PdDeliveryConfig, 1);
  g_auto (GStrv) keys = NULL;
  g_autofree char *tls = NULL;
  g_autofree char *password_file = NULL;
  GKeyFile *keyfile;

  g_return_val_if_fail (config != NULL, NULL);

  keyfile = config->keyfile;
  delivery->port = PD_DELIVERY_DEFAULT_PORT;
  delivery->tls = PD_DELIVERY_TLS_REQUIRED;
  delivery->max_lifetime = PD_DELIVERY_DEFAULT_MAX_LIFETIME;
  delivery->retry_base = PD_DELIVERY_DEFAULT_RETRY_BASE;
  delivery->retry_max = PD_DELIVERY_DEFAULT_RETRY_MAX;
  delivery->concurrency = PD_DELIVERY_DEFAULT_CONCURRENCY;
  delivery->timeout = PD_DELIVERY_DEFAULT_TIMEOUT;
  delivery->helo = g_strdup (config->hostname);
  delivery->domains = g_strdupv (config->domains);
  delivery->state_dir = g_strdup (config->state_dir);

  keys = g_key_file_get_keys (keyfile, "delivery", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains (delivery_keys, keys[i]))
      {
        config_error (error, "has no key \"%s\"", keys[i]);
        return NULL;
      }

  delivery->smarthost = get_key (keyfile, "smarthost");
  delivery->ca_file = get_key (keyfile, "ca_file");
  delivery->username = get_key (keyfile, "username");
  delivery->bounce_domain = get_key (keyfile, "bounce_domain");
  delivery->bounce_secret_file = get_key (keyfile, "bounce_secret_file");
  if (g_key_file_has_key (keyfile, "delivery", "paused", NULL))
    {
      g_autoptr (GError) local_error = NULL;

      delivery->paused = g_key_file_get_boolean (keyfile, "delivery", "paused", &local_error);
      if (local_error != NULL)
        {
          config_error (error, "paused must be true or false");
          return NULL;
        }
    }
  tls = get_key (keyfile, "tls");
  password_file = get_key (keyfile, "password_file");

  if (!get_number (keyfile, "port", 1, 65535, &delivery->port, error) || !get_number (keyfile, "concurrency", 1, 256, &delivery->concurrency, error) || !get_number (keyfile, "timeout", 5, 3600, &delivery->timeout, error) || !get_duration (keyfile, "max_lifetime", 60, &delivery->max_lifetime, error) || !get_duration (keyfile, "retry_base", 1, &delivery->retry_base, error) || !get_duration (keyfile, "retry_max", 1, &delivery->retry_max, error))
    return NULL;
  if (delivery->retry_max < delivery->retry_base)
    {
      config_error (error, "retry_max must not be below retry_base");
      return NULL;
    }

  if (delivery->smarthost != NULL && (strpbrk (delivery->smarthost, "/@?#[] \t") != NULL || g_hostname_is_non_ascii (delivery->smarthost) || strlen (delivery->smarthost) > 253))
    {
      /* An IPv6 literal is written bare (::1); we add the brackets. */
      if (!g_hostname_is_ip_address (delivery->smarthost))
        {
          config_error (error, "smarthost must be a host name or an IP address");
          return NULL;
        }
    }

  if (tls == NULL || g_str_equal (tls, "required"))
    delivery->tls = PD_DELIVERY_TLS_REQUIRED;
  else if (g_str_equal (tls, "opportunistic"))
    delivery->tls = PD_DELIVERY_TLS_OPPORTUNISTIC;
  else if (g_str_equal (tls, "none"))
    delivery->tls = PD_DELIVERY_TLS_NONE;
  else
    {
      config_error (error, "tls must be required, opportunistic or none");
      return NULL;
    }

  if ((delivery->username == NULL) != (password_file == NULL))
    {
      config_error (error, "username and password_file go together");
      return NULL;
    }
  if (password_file != NULL)
    {
      delivery->password = read_password (password_file, error);
      if (delivery->password == NULL)
        return NULL;
      /* A password must never cross the network in clear: without
       * required TLS only a smarthost on this host may have it. */
      if (delivery->tls != PD_DELIVERY_TLS_REQUIRED && (delivery->smarthost == NULL || !is_loopback_host (delivery->smarthost)))
        {
          config_error (error, "AUTH needs tls=required unless the smarthost is on this host");
          return NULL;
        }
    }
  if (delivery->ca_file != NULL && !g_path_is_absolute (delivery->ca_file))
    {
      config_error (error, "ca_file must be an absolute path");
      return NULL;
    }

  if (delivery->bounce_domain == NULL)
    delivery->bounce_domain = g_strdup (config->domains[0]);
  else
    {
      g_autoptr (GError) local_error = NULL;
      g_autofree char *normal = postern_domain_normalize (delivery->bounce_domain, &local_error);

      /* Bounces must come back to us: the domain must be one we take. */
      if (normal == NULL || !pd_config_has_domain (config, normal))
        {
          config_error (error, "bounce_domain must be one of [server] domains");
          return NULL;
        }
      g_free (delivery->bounce_domain);
      delivery->bounce_domain = g_steal_pointer (&normal);
    }
  if (delivery->bounce_secret_file == NULL)
    delivery->bounce_secret_file = g_build_filename (config->state_dir, "bounce.secret", NULL);
  else if (!g_path_is_absolute (delivery->bounce_secret_file))
    {
      config_error (error, "bounce_secret_file must be an absolute path");
      return NULL;
    }

  return g_steal_pointer (&delivery);
}

gboolean
pd_delivery_wake (const char *state_dir,
                  GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, PD_DELIVERY_WAKE_FILE, NULL);
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_get_real_time ());

  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, error);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

typedef enum
{
  JOB_MAILDIR,
  JOB_SMTP,
  JOB_DSN,
} JobKind;

typedef enum
{
  OUTCOME_OK,
  OUTCOME_TEMPORARY,
  OUTCOME_PERMANENT,
  OUTCOME_INTERRUPTED,
} Outcome;

typedef struct
{
  PdDeliveryQueue *self;
  PdDelivery *delivery;
  JobKind kind;

  char *maildir;
  char *prepend;    /* Maildir: our header fields */
  char *mail_from;  /* SMTP: "<...>" */
  char *rcpt;       /* SMTP: "<...>" */
  GBytes *message;  /* what is sent or written */
  GBytes *original; /* the stored message (for a DSN) */

  /* Why the message failed, for its DSN. */
  char *fail_status;
  guint fail_code;
  char *fail_reason;

  /* Result. */
  Outcome outcome;
  guint reply_code;
  char *enhanced;
  char *error_text;
} Job;

static void
job_free (Job *job)
{
  g_clear_object (&job->self);
  g_clear_pointer (&job->delivery, pd_delivery_free);
  g_free (job->maildir);
  g_free (job->prepend);
  g_free (job->mail_from);
  g_free (job->rcpt);
  g_clear_pointer (&job->message, g_bytes_unref);
  g_clear_pointer (&job->original, g_bytes_unref);
  g_free (job->fail_status);
  g_free (job->fail_reason);
  g_free (job->enhanced);
  g_free (job->error_text);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

struct _PdDeliveryQueue
{
  GObject parent_instance;

  PdStore *main_store; /* ingest's, on the main context: bounces, "deliveries-queued" */
  PdStore *store;      /* our own connection, used on the delivery thread only */
  PdDeliveryConfig *config;
  GBytes *secret;
  char *smtp_url;

  GMainContext *context;
  GThreadPool *pool;
  GAsyncQueue *handles; /* idle CURL easy handles: their connections stay open */
  GAsyncQueue *done;    /* jobs back from the workers */
  gint done_scheduled;  /* atomic: a drain is queued on the main context */
  gint stopping;        /* atomic */

  GThread *thread; /* runs @context: store waits never block the SMTP sessions */
  GMainLoop *loop;
  GSource *run_source;
  GSource *timer_source;
  GSource *flush_source;
  gint wake_pending; /* atomic: a wake-up from the main context is queued */
  gulong queued_handler;
  GFileMonitor *wake_monitor;
  guint in_flight;
  guint max_in_flight;
  gboolean started;

  const PdSmtpBackend *inner;
  gpointer inner_data;

  GHashTable *in_flight_ids; /* gint64 delivery ids with a job */
  GMutex sockets_lock;
  GHashTable *sockets;     /* fd + 1 of every socket curl has open */
  GArray *finishes;        /* of PdDeliveryFinish, not yet recorded */
  GPtrArray *finish_texts; /* their last_error strings */

  guint64 delivered;
  guint64 deferred;
  guint64 failed;
};

G_DEFINE_FINAL_TYPE (PdDeliveryQueue, pd_delivery_queue, G_TYPE_OBJECT)

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* ---- the worker side (no store, no main context) ---- */

typedef struct
{
  GBytes *data;
  gsize offset;
  char reply[REPLY_MAX];       /* the last line the server sent */
  char error_reply[REPLY_MAX]; /* the last 4xx/5xx line */
  PdDeliveryQueue *self;
} Transfer;

static size_t
read_cb (char *buffer,
         size_t size,
         size_t nitems,
         void *user_data)
{
  Transfer *transfer = user_data;
  gsize length;
  const char *data = g_bytes_get_data (transfer->data, &length);
  gsize n = MIN (size * nitems, length - transfer->offset);

  memcpy (buffer, data + transfer->offset, n);
  transfer->offset += n;
  return n;
}

/* Keeps the last line the server sent (never what we sent: AUTH). */
static int
debug_cb (CURL *handle,
          curl_infotype type,
          char *data,
          size_t size,
          void *user_data)
{
  Transfer *transfer = user_data;
  gsize n;

  if (type != CURLINFO_HEADER_IN || size == 0)
    return 0;
  while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
    size--;
  n = MIN (size, sizeof transfer->reply - 1);
  memcpy (transfer->reply, data, n);
  transfer->reply[n] = '\0';
  /* curl may talk on after a refusal (RSET): keep the refusal. */
  if (n >= 3 && (data[0] == '4' || data[0] == '5'))
    memcpy (transfer->error_reply, transfer->reply, n + 1);
  return 0;
}

static int
progress_cb (void *user_data,
             curl_off_t dltotal,
             curl_off_t dlnow,
             curl_off_t ultotal,
             curl_off_t ulnow)
{
  Transfer *transfer = user_data;

  /* Non-zero aborts the transfer: posternd is stopping. */
  return g_atomic_int_get (&transfer->self->stopping);
}

/* "550 5.1.1 ..." -> "5.1.1"; NULL when the reply has none. */
static char *
enhanced_code (const char *reply)
{
  const char *p = reply;
  const char *start;
  int parts = 0;

  if (strlen (reply) < 4)
    return NULL;
  p = reply + 4;
  start = p;
  if (*p != '2' && *p != '4' && *p != '5')
    return NULL;
  while (parts < 3)
    {
      int digits = 0;

      while (g_ascii_isdigit (*p) && digits < 4)
        p++, digits++;
      if (digits == 0 || digits > 3)
        return NULL;
      parts++;
      if (parts < 3)
        {
          if (*p != '.')
            return NULL;
          p++;
        }
    }
  if (*p != '\0' && *p != ' ')
    return NULL;
  return g_strndup (start, p - start);
}

/* Every socket libcurl opens for us is known, so that a stop can shut
 * them down: curl waits for the reply to the final dot (and to QUIT)
 * without calling the progress callback, and only a dead socket ends
 * that wait at once. */
static curl_socket_t
open_socket_cb (void *user_data,
                curlsocktype purpose,
                struct curl_sockaddr *address)
{
  PdDeliveryQueue *self = user_data;
  int fd = socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);

  if (fd < 0)
    return CURL_SOCKET_BAD;
  g_mutex_lock (&self->sockets_lock);
  g_hash_table_add (self->sockets, GINT_TO_POINTER (fd + 1));
  if (g_atomic_int_get (&self->stopping))
    shutdown (fd, SHUT_RDWR);
  g_mutex_unlock (&self->sockets_lock);
  return fd;
}

static int
close_socket_cb (void *user_data,
                 curl_socket_t fd)
{
  PdDeliveryQueue *self = user_data;

  g_mutex_lock (&self->sockets_lock);
  g_hash_table_remove (self->sockets, GINT_TO_POINTER (fd + 1));
  g_mutex_unlock (&self->sockets_lock);
  return close (fd);
}

static void
shut_down_sockets (PdDeliveryQueue *self)
{
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&self->sockets_lock);
  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    shutdown (GPOINTER_TO_INT (key) - 1, SHUT_RDWR);
  g_mutex_unlock (&self->sockets_lock);
}

/* curl sends QUIT on a connection it closes and waits for the reply:
 * not for long (a stop must not hang on a silent smarthost). */
static void
close_handle (CURL *curl)
{
  curl_easy_setopt (curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)QUIT_TIMEOUT);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, (long)QUIT_TIMEOUT);
  curl_easy_cleanup (curl);
}

static void
send_smtp (PdDeliveryQueue *self,
           Job *job)
{
  PdDeliveryConfig *config = self->config;
  Transfer transfer = { 0 };
  char error_buffer[CURL_ERROR_SIZE] = "";
  struct curl_slist *recipients = NULL;
  long code = 0;
  CURLcode res;
  CURL *curl;

  if (config->smarthost == NULL)
    {
      job->outcome = OUTCOME_TEMPORARY;
      job->error_text = g_strdup ("no smarthost is configured ([delivery] smarthost)");
      return;
    }

  curl = g_async_queue_try_pop (self->handles);
  if (curl == NULL)
    curl = curl_easy_init ();
  else
    curl_easy_reset (curl); /* keeps its open connection */
  if (curl == NULL)
    {
      job->outcome = OUTCOME_TEMPORARY;
      job->error_text = g_strdup ("cannot make a libcurl handle");
      return;
    }

  transfer.data = job->message;
  transfer.self = self;
  recipients = curl_slist_append (NULL, job->rcpt);

  curl_easy_setopt (curl, CURLOPT_URL, self->smtp_url);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp");
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, job->mail_from);
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (curl, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt (curl, CURLOPT_READDATA, &transfer);
  curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)g_bytes_get_size (job->message));
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, (long)config->timeout);
  curl_easy_setopt (curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)config->timeout);
  curl_easy_setopt (curl, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
  curl_easy_setopt (curl, CURLOPT_OPENSOCKETDATA, self);
  curl_easy_setopt (curl, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt (curl, CURLOPT_CLOSESOCKETDATA, self);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt (curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt (curl, CURLOPT_DEBUGFUNCTION, debug_cb);
  curl_easy_setopt (curl, CURLOPT_DEBUGDATA, &transfer);
  curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt (curl, CURLOPT_XFERINFODATA, &transfer);
  switch (config->tls)
    {
      case PD_DELIVERY_TLS_REQUIRED:
        curl_easy_setopt (curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L);
        break;
      case PD_DELIVERY_TLS_OPPORTUNISTIC:
        /* RFC 7435: encrypt when we can, without authenticating the
         * peer (an unverifiable certificate is better than clear text). */
        curl_easy_setopt (curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 0L);
        break;
      case PD_DELIVERY_TLS_NONE:
      default:
        curl_easy_setopt (curl, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
        break;
    }
  if (config->ca_file != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, config->ca_file);
  /* DSNs too: they reach the internet through the same smarthost. */
  if (config->username != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_USERNAME, config->username);
      curl_easy_setopt (curl, CURLOPT_PASSWORD, config->password);
    }

  res = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all (recipients);

  job->reply_code = code > 0 && code < 1000 ? (guint)code : 0;
  job->enhanced = enhanced_code (code >= 400 && transfer.error_reply[0] != '\0' ? transfer.error_reply : transfer.reply);
  if (res == CURLE_OK)
    job->outcome = OUTCOME_OK;
  else if (res == CURLE_ABORTED_BY_CALLBACK || g_atomic_int_get (&self->stopping))
    job->outcome = OUTCOME_INTERRUPTED; /* whatever the stop broke */
  else if (code >= 500 && code < 600 && res != CURLE_LOGIN_DENIED && res != CURLE_USE_SSL_FAILED)
    job->outcome = OUTCOME_PERMANENT;
  else
    job->outcome = OUTCOME_TEMPORARY;

  if (res != CURLE_OK)
    {
      /* The server's own words when it said something, else curl's. */
      if (transfer.error_reply[0] != '\0' && code >= 400)
        job->error_text = g_strdup_printf ("%s said: %s", config->smarthost, transfer.error_reply);
      else
        job->error_text = g_strdup_printf ("%s: %s", config->smarthost,
                                           error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror (res));
    }

  /* Keep the handle (and its open connection) after a success or a
   * clean refusal; after anything else its connection is of no use. */
  if (res == CURLE_OK || (code >= 400 && res != CURLE_ABORTED_BY_CALLBACK && res != CURLE_OPERATION_TIMEDOUT))
    g_async_queue_push (self->handles, curl);
  else
    close_handle (curl);
}

static void
deliver_maildir (Job *job)
{
  g_autoptr (GError) error = NULL;

  if (pd_maildir_deliver (job->maildir, job->message, job->prepend, NULL, &error))
    job->outcome = OUTCOME_OK;
  else
    {
      /* A full disk or a permission to fix: worth trying again. */
      job->outcome = OUTCOME_TEMPORARY;
      job->error_text = g_strdup (error->message);
    }
}

static gboolean drain_done_cb (gpointer user_data);

static void
worker_cb (gpointer data,
           gpointer user_data)
{
  Job *job = data;
  PdDeliveryQueue *self = user_data;

  if (g_atomic_int_get (&self->stopping))
    job->outcome = OUTCOME_INTERRUPTED;
  else if (job->kind == JOB_MAILDIR)
    deliver_maildir (job);
  else
    send_smtp (self, job);

  g_async_queue_push (self->done, job);
  if (g_atomic_int_compare_and_exchange (&self->done_scheduled, 0, 1))
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, drain_done_cb, g_object_ref (self), g_object_unref);
      g_source_set_static_name (source, "[posternd] delivery results");
      g_source_attach (source, self->context);
      g_source_unref (source);
    }
}

/* ---- the main-context side ---- */

static void run_soon (PdDeliveryQueue *self);

static gint64
backoff_seconds (PdDeliveryQueue *self,
                 int attempts)
{
  gint64 delay = self->config->retry_base;

  for (int i = 0; i < attempts && delay < self->config->retry_max; i++)
    delay *= 2;
  delay = MIN (delay, self->config->retry_max);
  /* The second half at random: retries of one outage spread out. */
  return delay - g_random_int_range (0, (gint32)MAX (1, delay / 2));
}

/* Results are recorded in batches (flush_rows()): one transaction, one
 * wait for the write lock the ingest's group commit also takes. */
static void
finish_row (PdDeliveryQueue *self,
            PdDelivery *delivery,
            PdDeliveryState state,
            gint64 next_attempt_at,
            const char *last_error)
{
  PdDeliveryFinish item = { delivery->id, state, next_attempt_at, NULL };
  char *text = g_strdup (last_error);

  g_ptr_array_add (self->finish_texts, text);
  item.last_error = text;
  g_array_append_val (self->finishes, item);
}

static void
flush_rows (PdDeliveryQueue *self)
{
  g_autoptr (GError) error = NULL;

  if (self->finishes->len == 0)
    return;
  /* On failure the rows keep their lease and are tried again after it:
   * a delivery may repeat, never vanish. */
  if (!pd_store_finish_deliveries (self->store, (const PdDeliveryFinish *)(gpointer)self->finishes->data,
                                   self->finishes->len, &error))
    g_warning ("event=store-error what=finish rows=%u error=\"%s\"", self->finishes->len, error->message);
  g_array_set_size (self->finishes, 0);
  g_ptr_array_set_size (self->finish_texts, 0);
}

static void job_done (PdDeliveryQueue *self, Job *job_in);

static void
push_job (PdDeliveryQueue *self,
          Job *job)
{
  self->in_flight++;
  g_hash_table_add (self->in_flight_ids, g_memdup2 (&job->delivery->id, sizeof (gint64)));
  /* Stopping (a DSN made while the last results come in): the row keeps
   * it for the next start. */
  if (self->pool == NULL || g_atomic_int_get (&self->stopping))
    {
      job->outcome = OUTCOME_INTERRUPTED;
      job_done (self, job);
      return;
    }
  g_thread_pool_push (self->pool, job, NULL);
}

/* Makes the DSN job for @delivery, or finishes the row when no DSN may
 * or can go. Takes @original. */
static void
fail_for_good (PdDeliveryQueue *self,
               PdDelivery *delivery,
               GBytes *original,
               const char *status,
               guint code,
               const char *reason,
               const char *error_text)
{
  g_autoptr (PdDelivery) owned = delivery;
  g_autoptr (GBytes) stored = original;
  const char *sender = postern_event_get_envelope_sender (delivery->event);
  const char *suppress;
  g_autoptr (PosternChannel) channel = NULL;
  g_autofree char *rcpt_address = NULL;
  PdDsnReport report = { 0 };
  Job *job;

  suppress = pd_dsn_suppress_reason (sender, stored, (const char *const *)self->config->domains);
  if (suppress == NULL && self->config->smarthost == NULL)
    suppress = "no smarthost to send it through";
  if (suppress == NULL && stored == NULL)
    suppress = "the message is gone";
  if (suppress != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%s; no DSN: %s", error_text != NULL ? error_text : reason, suppress);

      g_message ("delivery=%" G_GINT64_FORMAT " event=failed dsn=none why=\"%s\"", delivery->id, suppress);
      self->failed++;
      finish_row (self, delivery, PD_DELIVERY_FAILED, 0, text);
      return;
    }

  channel = pd_store_get_channel (self->store, delivery->user_id, delivery->channel_id, NULL);
  rcpt_address = channel != NULL ? g_strdup (postern_channel_get_address (channel)) : g_strdup (delivery->channel_id);

  report.reporting_mta = self->config->helo;
  report.from_domain = self->config->bounce_domain;
  report.original_sender = sender;
  report.final_recipient = rcpt_address;
  report.arrival_date = postern_event_get_received_at (delivery->event);
  report.last_attempt_date = now_seconds ();
  report.status = status;
  report.reply_code = code;
  report.reason = reason;
  report.original = stored;

  job = g_new0 (Job, 1);
  job->self = g_object_ref (self);
  job->kind = JOB_DSN;
  job->delivery = g_steal_pointer (&owned);
  job->mail_from = g_strdup ("<>");
  job->rcpt = g_strdup_printf ("<%s>", sender);
  job->message = pd_dsn_build (&report);
  job->original = g_steal_pointer (&stored);
  job->fail_status = g_strdup (status);
  job->fail_code = code;
  job->fail_reason = g_strdup (reason);
  job->error_text = NULL;
  push_job (self, job);
}

/* "STATUS CODE REASON" after DSN_PENDING_PREFIX. */
static gboolean
parse_dsn_pending (const char *last_error,
                   char **out_status,
                   guint *out_code,
                   char **out_reason)
{
  g_auto (GStrv) parts = NULL;
  guint64 code = 0;

  if (last_error == NULL || !g_str_has_prefix (last_error, DSN_PENDING_PREFIX))
    return FALSE;
  parts = g_strsplit (last_error + strlen (DSN_PENDING_PREFIX), " ", 3);
  if (g_strv_length (parts) != 3 || !g_ascii_string_to_unsigned (parts[1], 10, 0, 599, &code, NULL))
    return FALSE;
  *out_status = g_strdup (parts[0]);
  *out_code = (guint)code;
  *out_reason = g_strdup (parts[2]);
  return TRUE;
}

static void
start_row (PdDeliveryQueue *self,
           PdDelivery *delivery_in)
{
  g_autoptr (PdDelivery) delivery = delivery_in;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GBytes) stored = NULL;
  g_autofree char *status = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *headers = NULL;
  guint code = 0;
  gboolean smtp = g_strcmp0 (delivery->target, "smtp") == 0;
  Job *job;

  /* Still queued here past its lease (a slow smarthost and a long
   * queue): the fetch renewed the lease; one attempt at a time. */
  if (g_hash_table_contains (self->in_flight_ids, &delivery->id))
    return;

  stored = pd_store_open_spool (self->store, delivery->message_key, &error);
  if (stored == NULL)
    {
      g_warning ("delivery=%" G_GINT64_FORMAT " event=spool-error error=\"%s\"", delivery->id, error->message);
      if (g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND))
        {
          self->failed++;
          finish_row (self, delivery, PD_DELIVERY_FAILED, 0, "the spool file is gone");
        }
      else
        finish_row (self, delivery, PD_DELIVERY_PENDING, now_seconds () + backoff_seconds (self, delivery->attempts), error->message);
      return;
    }

  /* Failed for good earlier; only its DSN is still to go. */
  if (parse_dsn_pending (delivery->last_error, &status, &code, &reason))
    {
      fail_for_good (self, g_steal_pointer (&delivery), g_steal_pointer (&stored), status, code, reason, reason);
      return;
    }

  user = pd_store_get_user (self->store, delivery->user_id, &error);
  if (user == NULL)
    {
      g_message ("delivery=%" G_GINT64_FORMAT " event=failed why=\"user gone\"", delivery->id);
      self->failed++;
      finish_row (self, delivery, PD_DELIVERY_FAILED, 0, "the user was removed");
      return;
    }
  if ((smtp && user->forward_to == NULL) || (!smtp && user->maildir == NULL))
    {
      const char *why = smtp ? "the owner no longer forwards to a mailbox" : "the owner no longer has a Maildir";

      fail_for_good (self, g_steal_pointer (&delivery), g_steal_pointer (&stored), "5.1.6", 0, why, why);
      return;
    }

  channel = pd_store_get_channel (self->store, delivery->user_id, delivery->channel_id, NULL);
  headers = pd_forward_format_headers (channel != NULL ? postern_channel_get_label (channel) : NULL,
                                       channel != NULL ? postern_channel_get_address (channel) : delivery->channel_id,
                                       delivery->verdict);

  job = g_new0 (Job, 1);
  job->self = g_object_ref (self);
  if (smtp)
    {
      g_autofree char *bounce = pd_forward_bounce_address (self->secret, self->config->bounce_domain, delivery->id, now_seconds ());

      job->kind = JOB_SMTP;
      job->mail_from = g_strdup_printf ("<%s>", bounce);
      job->rcpt = g_strdup_printf ("<%s>", user->forward_to);
      job->message = pd_forward_build_message (stored, headers);
    }
  else
    {
      job->kind = JOB_MAILDIR;
      job->maildir = g_strdup (user->maildir);
      job->prepend = g_steal_pointer (&headers);
      job->message = g_bytes_ref (stored);
    }
  job->original = g_steal_pointer (&stored);
  job->delivery = g_steal_pointer (&delivery);
  push_job (self, job);
}

static gboolean
expired (PdDeliveryQueue *self,
         PdDelivery *delivery)
{
  return now_seconds () - delivery->created_at >= self->config->max_lifetime;
}

static void
job_done (PdDeliveryQueue *self,
          Job *job_in)
{
  g_autoptr (Job) job = job_in;
  PdDelivery *delivery = job->delivery;
  gint64 now = now_seconds ();
  const char *target = job->kind == JOB_DSN ? "dsn" : delivery->target;

  self->in_flight--;
  g_hash_table_remove (self->in_flight_ids, &delivery->id);
  switch (job->outcome)
    {
      case OUTCOME_OK:
        if (job->kind == JOB_DSN)
          {
            g_autofree char *text = g_strdup_printf ("%s; DSN sent to the sender", job->fail_reason);

            g_message ("delivery=%" G_GINT64_FORMAT " event=dsn-sent", delivery->id);
            self->failed++;
            finish_row (self, delivery, PD_DELIVERY_FAILED, 0, text);
          }
        else
          {
            g_message ("delivery=%" G_GINT64_FORMAT " event=delivered target=%s attempts=%d", delivery->id, target, delivery->attempts + 1);
            self->delivered++;
            finish_row (self, delivery, PD_DELIVERY_DONE, 0, NULL);
          }
        break;

      case OUTCOME_INTERRUPTED:
        if (job->kind == JOB_DSN)
          {
            g_autofree char *text = g_strdup_printf (DSN_PENDING_PREFIX "%s %u %s", job->fail_status, job->fail_code, job->fail_reason);

            finish_row (self, delivery, PD_DELIVERY_PENDING, now, text);
          }
        else
          finish_row (self, delivery, PD_DELIVERY_PENDING, now, "interrupted: posternd stopped");
        break;

      case OUTCOME_TEMPORARY:
        g_message ("delivery=%" G_GINT64_FORMAT " event=deferred target=%s attempts=%d", delivery->id, target, delivery->attempts + 1);
        if (job->kind == JOB_DSN)
          {
            g_autofree char *text = NULL;

            /* A DSN gets one more lifetime; then nobody is told. */
            if (now - delivery->created_at >= 2 * self->config->max_lifetime)
              {
                text = g_strdup_printf ("%s; DSN not sent: %s", job->fail_reason, job->error_text);
                self->failed++;
                finish_row (self, delivery, PD_DELIVERY_FAILED, 0, text);
              }
            else
              {
                text = g_strdup_printf (DSN_PENDING_PREFIX "%s %u %s", job->fail_status, job->fail_code, job->fail_reason);
                self->deferred++;
                finish_row (self, delivery, PD_DELIVERY_PENDING, now + backoff_seconds (self, delivery->attempts), text);
              }
          }
        else if (expired (self, delivery))
          {
            g_autofree char *reason = g_strdup_printf ("delivery kept failing for %" G_GINT64_FORMAT " hours; the last error was temporary",
                                                       (now - delivery->created_at) / 3600);

            fail_for_good (self, g_steal_pointer (&job->delivery), g_steal_pointer (&job->original),
                           job->enhanced != NULL && job->enhanced[0] == '4' ? job->enhanced : "4.4.7", job->reply_code, reason,
                           job->error_text);
          }
        else
          {
            self->deferred++;
            finish_row (self, delivery, PD_DELIVERY_PENDING, now + backoff_seconds (self, delivery->attempts), job->error_text);
          }
        break;

      case OUTCOME_PERMANENT:
      default:
        g_message ("delivery=%" G_GINT64_FORMAT " event=bounced target=%s reply=%u", delivery->id, target, job->reply_code);
        if (job->kind == JOB_DSN)
          {
            g_autofree char *text = g_strdup_printf ("%s; DSN refused: %s", job->fail_reason, job->error_text);

            self->failed++;
            finish_row (self, delivery, PD_DELIVERY_FAILED, 0, text);
          }
        else
          {
            g_autofree char *reason = g_strdup_printf ("the channel owner's mail server refused the message (%u%s%s)",
                                                       job->reply_code, job->enhanced != NULL ? " " : "",
                                                       job->enhanced != NULL ? job->enhanced : "");

            fail_for_good (self, g_steal_pointer (&job->delivery), g_steal_pointer (&job->original),
                           job->enhanced != NULL && job->enhanced[0] == '5' ? job->enhanced : "5.0.0", job->reply_code, reason,
                           job->error_text);
          }
        break;
    }
}

static void
drain_done (PdDeliveryQueue *self)
{
  Job *job;

  while ((job = g_async_queue_try_pop (self->done)) != NULL)
    job_done (self, job);
}

static gboolean
flush_cb (gpointer user_data)
{
  PdDeliveryQueue *self = user_data;

  g_clear_pointer (&self->flush_source, g_source_unref);
  flush_rows (self);
  return G_SOURCE_REMOVE;
}

/* Records results soon: at once when a batch is full, else after
 * FLUSH_DELAY_MS so that the results of that moment share a commit. */
static void
schedule_flush (PdDeliveryQueue *self)
{
  if (self->finishes->len >= FLUSH_ROWS)
    {
      flush_rows (self);
      return;
    }
  if (self->finishes->len == 0 || self->flush_source != NULL)
    return;
  self->flush_source = g_timeout_source_new (FLUSH_DELAY_MS);
  g_source_set_callback (self->flush_source, flush_cb, self, NULL);
  g_source_set_static_name (self->flush_source, "[posternd] delivery results flush");
  g_source_attach (self->flush_source, self->context);
}

static gboolean
drain_done_cb (gpointer user_data)
{
  PdDeliveryQueue *self = user_data;

  g_atomic_int_set (&self->done_scheduled, 0);
  drain_done (self);
  /* Fetch again once half the slots are free, not for every result:
   * each fetch is a write transaction (the lease). The run records the
   * results first. */
  if (self->in_flight <= self->max_in_flight / 2)
    run_soon (self);
  else
    schedule_flush (self);
  return G_SOURCE_REMOVE;
}

static gboolean run_cb (gpointer user_data);

static void
arm_timer (PdDeliveryQueue *self,
           gint64 seconds)
{
  if (self->timer_source != NULL)
    {
      g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
    }
  seconds = CLAMP (seconds, 1, MAX_TIMER_SECONDS);
  self->timer_source = g_timeout_source_new_seconds ((guint)seconds);
  g_source_set_callback (self->timer_source, run_cb, self, NULL);
  g_source_set_static_name (self->timer_source, "[posternd] delivery timer");
  g_source_attach (self->timer_source, self->context);
}

static gboolean
run_cb (gpointer user_data)
{
  PdDeliveryQueue *self = user_data;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now = now_seconds ();
  gint64 next = 0;
  guint free_slots;

  g_clear_pointer (&self->run_source, g_source_unref);
  if (self->timer_source != NULL)
    {
      g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
    }
  if (g_atomic_int_get (&self->stopping))
    return G_SOURCE_REMOVE;

  flush_rows (self);
  free_slots = self->max_in_flight > self->in_flight ? self->max_in_flight - self->in_flight : 0;
  if (free_slots == 0)
    return G_SOURCE_REMOVE; /* a result coming back runs us again */

  rows = pd_store_next_due_deliveries (self->store, now, free_slots, &error);
  if (rows == NULL)
    {
      g_warning ("event=store-error what=due-deliveries error=\"%s\"", error->message);
      arm_timer (self, STORE_RETRY_SECONDS);
      return G_SOURCE_REMOVE;
    }
  for (guint i = 0; i < rows->len; i++)
    start_row (self, g_steal_pointer (&g_ptr_array_index (rows, i)));
  schedule_flush (self); /* rows that ended without an attempt */

  if (rows->len == free_slots)
    return G_SOURCE_REMOVE; /* more may be due: a result runs us again */

  if (pd_store_get_next_delivery_at (self->store, &next, &error))
    arm_timer (self, next - now);
  else if (error != NULL)
    {
      g_warning ("event=store-error what=next-delivery error=\"%s\"", error->message);
      arm_timer (self, STORE_RETRY_SECONDS);
    }
  return G_SOURCE_REMOVE;
}

static void
run_soon (PdDeliveryQueue *self)
{
  if (self->run_source != NULL || !self->started || g_atomic_int_get (&self->stopping))
    return;
  /* A few milliseconds late: the wake-ups and results of that moment
   * share one run (each run is a write transaction). */
  self->run_source = g_timeout_source_new (RUN_DELAY_MS);
  g_source_set_callback (self->run_source, run_cb, self, NULL);
  g_source_set_static_name (self->run_source, "[posternd] delivery run");
  g_source_attach (self->run_source, self->context);
}

/* On the delivery thread: our own store's rows became due. */
static void
own_rows_queued_cb (PdStore *store,
                    gpointer user_data)
{
  run_soon (user_data);
}

static gboolean
wake_cb (gpointer user_data)
{
  PdDeliveryQueue *self = user_data;

  g_atomic_int_set (&self->wake_pending, 0);
  run_soon (self);
  return G_SOURCE_REMOVE;
}

/* On the main context: ingest committed rows (or an API released held
 * mail). Tell the delivery thread, once until it has looked. */
static void
deliveries_queued_cb (PdStore *store,
                      gpointer user_data)
{
  PdDeliveryQueue *self = user_data;
  GSource *source;

  if (!g_atomic_int_compare_and_exchange (&self->wake_pending, 0, 1))
    return;
  source = g_idle_source_new ();
  g_source_set_callback (source, wake_cb, g_object_ref (self), g_object_unref);
  g_source_set_static_name (source, "[posternd] delivery wake-up");
  g_source_attach (source, self->context);
  g_source_unref (source);
}

static void
wake_changed_cb (GFileMonitor *monitor,
                 GFile *file,
                 GFile *other,
                 GFileMonitorEvent event,
                 gpointer user_data)
{
  run_soon (user_data);
}

/* ------------------------------------------------------------------ */
/* Bounces: the SMTP backend in front of ingest                        */

static void
answer_recipient (PdSmtpSession *session,
                  guint code,
                  const char *enhanced,
                  const char *text)
{
  PdSmtpReply reply = { code, enhanced, text };

  pd_smtp_session_complete_recipient (session, &reply);
}

static void
bounce_recipient (PdSmtpSession *session,
                  const PosternMailbox *sender,
                  const PosternMailbox *recipient,
                  gpointer user_data)
{
  PdDeliveryQueue *self = user_data;
  GArray *bounces = g_object_get_data (G_OBJECT (session), BOUNCES_KEY);
  gint64 max_age = MAX (2 * self->config->max_lifetime, 7 * 24 * 3600);
  gint64 delivery_id = 0;

  if (self->secret != NULL && pd_forward_parse_bounce (self->secret, recipient, now_seconds (), max_age, &delivery_id, NULL))
    {
      /* Ingest keeps its own transaction data: one kind per
       * transaction (452: the client sends the rest again later). */
      if (pd_smtp_session_get_transaction_data (session) != NULL)
        {
          answer_recipient (session, 452, "4.5.3", "Bounces go in a transaction of their own");
          return;
        }
      if (bounces == NULL)
        {
          bounces = g_array_new (FALSE, FALSE, sizeof (gint64));
          g_object_set_data_full (G_OBJECT (session), BOUNCES_KEY, bounces, (GDestroyNotify)g_array_unref);
        }
      g_array_append_val (bounces, delivery_id);
      g_message ("session=%s event=rcpt to=bounce delivery=%" G_GINT64_FORMAT " reply=250", pd_smtp_session_get_id (session), delivery_id);
      answer_recipient (session, 250, "2.1.5", "Bounce address OK");
      return;
    }

  if (bounces != NULL)
    {
      answer_recipient (session, 452, "4.5.3", "Bounces go in a transaction of their own");
      return;
    }
  if (self->inner != NULL)
    self->inner->recipient (session, sender, recipient, self->inner_data);
  else
    answer_recipient (session, 550, "5.1.1", "No such channel here");
}

/* The first "Status:" of a delivery report, for the row's last_error. */
static char *
find_report_status (GBytes *data)
{
  gsize size;
  const char *text = g_bytes_get_data (data, &size);
  gsize at = 0;

  size = MIN (size, BOUNCE_SCAN_MAX);
  while (at < size)
    {
      const char *nl = memchr (text + at, '\n', size - at);
      gsize end = nl != NULL ? (gsize)(nl - text) : size;

      if (end - at > 7 && g_ascii_strncasecmp (text + at, "Status:", 7) == 0)
        {
          char *line = g_strndup (text + at + 7, MIN (end - at - 7, 64));

          return g_strstrip (line);
        }
      at = end + 1;
    }
  return NULL;
}

static gboolean
is_delivery_report (GBytes *data)
{
  g_autoptr (GBytes) section = pd_forward_get_header_section (data, BOUNCE_SCAN_MAX);
  gsize size;
  const char *text = g_bytes_get_data (section, &size);
  g_autofree char *lower = g_ascii_strdown (text, (gssize)size);

  return strstr (lower, "multipart/report") != NULL && strstr (lower, "delivery-status") != NULL;
}

static void
bounce_message (PdSmtpSession *session,
                GBytes *data,
                const PdHeaders *headers,
                gpointer user_data)
{
  PdDeliveryQueue *self = user_data;
  GArray *bounces = g_object_get_data (G_OBJECT (session), BOUNCES_KEY);
  g_autoptr (GArray) replies = NULL;
  g_autofree char *status = NULL;
  gboolean report;
  PdSmtpReply ok = { 250, "2.0.0", "Bounce received" };

  if (bounces == NULL)
    {
      if (self->inner != NULL)
        self->inner->message (session, data, headers, self->inner_data);
      return;
    }

  report = is_delivery_report (data);
  status = report ? find_report_status (data) : NULL;
  for (guint i = 0; i < bounces->len; i++)
    {
      gint64 id = g_array_index (bounces, gint64, i);

      if (report)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *text = g_strdup_printf ("bounced after relay (status %s)", status != NULL ? status : "unknown");

          /* The smarthost took it, the owner's mailbox sent it back: the
           * row is failed, and says why. */
          if (!pd_store_finish_delivery (self->main_store, id, PD_DELIVERY_FAILED, 0, text, &error))
            g_warning ("delivery=%" G_GINT64_FORMAT " event=store-error what=bounce error=\"%s\"", id, error->message);
        }
      g_message ("session=%s event=%s delivery=%" G_GINT64_FORMAT, pd_smtp_session_get_id (session),
                 report ? "bounce" : "auto-reply-discarded", id);
    }

  replies = g_array_new (FALSE, FALSE, sizeof (PdSmtpReply));
  for (guint i = 0; i < MAX (bounces->len, 1); i++)
    g_array_append_val (replies, ok);
  if (pd_smtp_session_get_protocol (session) == PD_SMTP_PROTOCOL_LMTP)
    pd_smtp_session_complete_message (session, (PdSmtpReply *)(gpointer)replies->data, replies->len);
  else
    pd_smtp_session_complete_message (session, &ok, 1);
}

static void
bounce_reset (PdSmtpSession *session,
              gpointer user_data)
{
  PdDeliveryQueue *self = user_data;

  g_object_set_data (G_OBJECT (session), BOUNCES_KEY, NULL);
  if (self->inner != NULL && self->inner->reset != NULL)
    self->inner->reset (session, self->inner_data);
}

static const PdSmtpBackend bounce_backend = {
  bounce_recipient,
  bounce_message,
  bounce_reset,
};

const PdSmtpBackend *
pd_delivery_queue_get_backend (void)
{
  return &bounce_backend;
}

void
pd_delivery_queue_set_inner_backend (PdDeliveryQueue *self,
                                     const PdSmtpBackend *inner,
                                     gpointer inner_data)
{
  g_return_if_fail (PD_IS_DELIVERY_QUEUE (self));

  self->inner = inner;
  self->inner_data = inner_data;
}

/* ------------------------------------------------------------------ */
/* Object                                                              */

static void
pd_delivery_queue_dispose (GObject *object)
{
  PdDeliveryQueue *self = PD_DELIVERY_QUEUE (object);

  pd_delivery_queue_stop (self);

  G_OBJECT_CLASS (pd_delivery_queue_parent_class)->dispose (object);
}

static void
pd_delivery_queue_finalize (GObject *object)
{
  PdDeliveryQueue *self = PD_DELIVERY_QUEUE (object);
  CURL *curl;

  while ((curl = g_async_queue_try_pop (self->handles)) != NULL)
    close_handle (curl);
  g_async_queue_unref (self->handles);
  g_async_queue_unref (self->done);
  g_hash_table_unref (self->in_flight_ids);
  g_hash_table_unref (self->sockets);
  g_mutex_clear (&self->sockets_lock);
  g_array_unref (self->finishes);
  g_ptr_array_unref (self->finish_texts);
  g_clear_pointer (&self->secret, g_bytes_unref);
  g_clear_pointer (&self->config, pd_delivery_config_free);
  g_free (self->smtp_url);
  g_clear_object (&self->store);
  g_clear_object (&self->main_store);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (pd_delivery_queue_parent_class)->finalize (object);
}

static void
pd_delivery_queue_class_init (PdDeliveryQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_delivery_queue_dispose;
  object_class->finalize = pd_delivery_queue_finalize;
}

static void
pd_delivery_queue_init (PdDeliveryQueue *self)
{
  self->handles = g_async_queue_new ();
  self->done = g_async_queue_new ();
  self->in_flight_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_mutex_init (&self->sockets_lock);
  self->sockets = g_hash_table_new (NULL, NULL);
  self->finishes = g_array_new (FALSE, FALSE, sizeof (PdDeliveryFinish));
  self->finish_texts = g_ptr_array_new_with_free_func (g_free);
}

PdDeliveryQueue *
pd_delivery_queue_new (PdConfig *config,
                       PdStore *store,
                       GError **error)
{
  static gsize curl_ready = 0;
  g_autoptr (PdDeliveryQueue) self = NULL;
  g_autoptr (PdDeliveryConfig) delivery = NULL;
  gboolean v6;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (PD_IS_STORE (store), NULL);

  delivery = pd_delivery_config_load (config, error);
  if (delivery == NULL)
    return NULL;

  /* Once, before any thread: curl_global_init is not thread-safe. */
  if (g_once_init_enter (&curl_ready))
    {
      curl_global_init (CURL_GLOBAL_DEFAULT);
      g_once_init_leave (&curl_ready, 1);
    }

  self = g_object_new (PD_TYPE_DELIVERY_QUEUE, NULL);
  self->main_store = g_object_ref (store);
  self->secret = pd_forward_load_secret (delivery->bounce_secret_file, error);
  if (self->secret == NULL)
    return NULL;

  /* Our own connection, bound to our own context: its waits for the
   * write lock (which ingest's group commit holds through its fsyncs)
   * stall the delivery thread, never the SMTP sessions. */
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  g_main_context_push_thread_default (self->context);
  self->store = pd_store_open (config->state_dir, error);
  g_main_context_pop_thread_default (self->context);
  if (self->store == NULL)
    return NULL;
  g_signal_connect (self->store, "deliveries-queued", G_CALLBACK (own_rows_queued_cb), self);

  v6 = delivery->smarthost != NULL && strchr (delivery->smarthost, ':') != NULL;
  /* The path of an smtp:// URL is the name we give in EHLO. */
  if (delivery->smarthost != NULL)
    self->smtp_url = g_strdup_printf ("smtp://%s%s%s:%u/%s", v6 ? "[" : "", delivery->smarthost, v6 ? "]" : "",
                                      delivery->port, delivery->helo);
  self->max_in_flight = delivery->concurrency * ROWS_PER_WORKER;
  self->config = g_steal_pointer (&delivery);
  self->pool = g_thread_pool_new (worker_cb, self, (gint)self->config->concurrency, FALSE, error);
  if (self->pool == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/* Jobs not started end at once (interrupted); transfers under way abort
 * at their next progress call. Then every result is recorded. */
static void
shut_down_workers (PdDeliveryQueue *self)
{
  shut_down_sockets (self);
  if (self->pool != NULL)
    g_thread_pool_free (g_steal_pointer (&self->pool), FALSE, TRUE);
  drain_done (self);
  flush_rows (self);
}

static gpointer
delivery_thread_func (gpointer data)
{
  PdDeliveryQueue *self = data;

  g_main_context_push_thread_default (self->context);
  run_soon (self);
  g_main_loop_run (self->loop);

  if (self->run_source != NULL)
    g_source_destroy (self->run_source);
  g_clear_pointer (&self->run_source, g_source_unref);
  if (self->timer_source != NULL)
    g_source_destroy (self->timer_source);
  g_clear_pointer (&self->timer_source, g_source_unref);
  if (self->flush_source != NULL)
    g_source_destroy (self->flush_source);
  g_clear_pointer (&self->flush_source, g_source_unref);
  shut_down_workers (self);
  /* Sources still queued hold references: let them run (they find
   * nothing to do) so that nothing is left attached. */
  for (guint spins = 0; spins < 1000 && g_main_context_iteration (self->context, FALSE); spins++)
    ;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

void
pd_delivery_queue_start (PdDeliveryQueue *self)
{
  g_autofree char *wake_path = NULL;
  g_autoptr (GFile) wake_file = NULL;
  g_autoptr (GError) error = NULL;
  gint64 released;

  g_return_if_fail (PD_IS_DELIVERY_QUEUE (self));
  g_return_if_fail (!self->started && self->pool != NULL);

  /* One posternd runs the queue of a state_dir: a lease found now was
   * taken by a process that died mid-transfer (kill -9, power loss). Its
   * rows are due at once, not in 15 minutes; the transfer may repeat. */
  released = pd_store_release_leases (self->main_store, &error);
  if (released < 0)
    g_warning ("Delivery: cannot release the leases of a previous run (those rows wait for their lease end): %s",
               error->message);
  else if (released > 0)
    g_message ("delivery queue: %" G_GINT64_FORMAT " deliveries interrupted by the previous run are due again",
               released);
  g_clear_error (&error);

  if (self->config->paused)
    {
      /* Bounces are still taken; the rows wait for a start without it. */
      g_message ("delivery queue paused ([delivery] paused=true): mail is kept, not delivered");
      return;
    }
  self->started = TRUE;
  self->queued_handler = g_signal_connect (self->main_store, "deliveries-queued", G_CALLBACK (deliveries_queued_cb), self);

  /* Made with our context as the thread default: it reports there. */
  wake_path = g_build_filename (self->config->state_dir, PD_DELIVERY_WAKE_FILE, NULL);
  wake_file = g_file_new_for_path (wake_path);
  g_main_context_push_thread_default (self->context);
  self->wake_monitor = g_file_monitor_file (wake_file, G_FILE_MONITOR_NONE, NULL, &error);
  if (self->wake_monitor != NULL)
    g_signal_connect (self->wake_monitor, "changed", G_CALLBACK (wake_changed_cb), self);
  g_main_context_pop_thread_default (self->context);
  if (self->wake_monitor == NULL)
    g_warning ("Delivery: cannot watch %s (held mail released by an admin command waits for the next run): %s",
               wake_path, error->message);

  g_message ("delivery queue started (smarthost %s, %u workers, retries from %" G_GINT64_FORMAT "s to %" G_GINT64_FORMAT "s, lifetime %" G_GINT64_FORMAT "s)",
             self->config->smarthost != NULL ? self->config->smarthost : "none", self->config->concurrency,
             self->config->retry_base, self->config->retry_max, self->config->max_lifetime);
  self->thread = g_thread_new ("pd-delivery", delivery_thread_func, self);
}

static gboolean
quit_loop_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

void
pd_delivery_queue_stop (PdDeliveryQueue *self)
{
  GSource *source;

  g_return_if_fail (PD_IS_DELIVERY_QUEUE (self));

  if (g_atomic_int_get (&self->stopping))
    return;
  g_atomic_int_set (&self->stopping, 1);
  /* First: no wake-up may be queued after the thread's last look. */
  g_clear_signal_handler (&self->queued_handler, self->main_store);

  if (self->thread != NULL)
    {
      /* A source, not g_main_loop_quit(): the loop may not run yet. */
      source = g_idle_source_new ();
      g_source_set_callback (source, quit_loop_cb, g_main_loop_ref (self->loop), (GDestroyNotify)g_main_loop_unref);
      g_source_attach (source, self->context);
      g_source_unref (source);
      g_thread_join (g_steal_pointer (&self->thread));
    }
  else
    shut_down_workers (self);

  if (self->wake_monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->wake_monitor, self);
      g_file_monitor_cancel (self->wake_monitor);
      g_clear_object (&self->wake_monitor);
    }
  if (self->started)
    g_message ("delivery queue stopped: %" G_GUINT64_FORMAT " delivered, %" G_GUINT64_FORMAT " deferred, %" G_GUINT64_FORMAT " failed",
               self->delivered, self->deferred, self->failed);
}

guint64
pd_delivery_queue_get_delivered (PdDeliveryQueue *self)
{
  g_return_val_if_fail (PD_IS_DELIVERY_QUEUE (self), 0);
  return self->delivered;
}

guint64
pd_delivery_queue_get_deferred (PdDeliveryQueue *self)
{
  g_return_val_if_fail (PD_IS_DELIVERY_QUEUE (self), 0);
  return self->deferred;
}

guint64
pd_delivery_queue_get_failed (PdDeliveryQueue *self)
{
  g_return_val_if_fail (PD_IS_DELIVERY_QUEUE (self), 0);
  return self->failed;
}
