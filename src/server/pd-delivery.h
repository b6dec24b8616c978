/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pd-config.h"
#include "pd-smtp-session.h"
#include "pd-store.h"

G_BEGIN_DECLS

/*
 * The delivery queue: takes the store's due delivery rows and delivers
 * them, a Maildir target with pd_maildir_deliver(), an "smtp" target
 * through the configured smarthost with libcurl (STARTTLS, AUTH), on a
 * pool of worker threads so that the main loop never waits on a disk or
 * a network. Everything that touches the store happens on the main
 * context.
 *
 * Retries: a temporary failure (4xx, no connection, a local error) is
 * tried again after retry_base * 2^attempts seconds (at most retry_max),
 * the second half of that interval drawn at random so that a queue that
 * failed together does not retry together. When a message is older than
 * max_lifetime, or the smarthost answers 5xx, it has failed for good: a
 * DSN (pd-dsn.h) goes to the original sender unless that would be a
 * loop or a reply to an automatic message. A DSN that cannot be handed
 * to the smarthost yet waits in the row ("dsn-pending") and is retried
 * like mail.
 *
 * Idle, it does not poll: it wakes on the store's "deliveries-queued",
 * on a timer armed for the earliest next attempt, and when an admin
 * command in another process touches PD_DELIVERY_WAKE_FILE in the state
 * directory (pd_delivery_wake()).
 *
 * It is also the SMTP backend in front of ingest: RCPT to a signed
 * bounce address (pd-forward.h) is accepted here and the bounce is
 * attributed to its delivery row; every other recipient goes to the
 * inner backend (ingest).
 */

#define PD_DELIVERY_ERROR (pd_delivery_error_quark ())

typedef enum
{
  PD_DELIVERY_ERROR_CONFIG, /* a [delivery] key holds a value we refuse */
} PdDeliveryError;

GQuark pd_delivery_error_quark (void);

#define PD_DELIVERY_WAKE_FILE "delivery.wake"

typedef enum
{
  PD_DELIVERY_TLS_REQUIRED,      /* STARTTLS and a verified certificate, or no delivery */
  PD_DELIVERY_TLS_OPPORTUNISTIC, /* STARTTLS when offered, certificate not verified */
  PD_DELIVERY_TLS_NONE,          /* plain text (a smarthost on the same host) */
} PdDeliveryTls;

/* Defaults of the [delivery] group. */
#define PD_DELIVERY_DEFAULT_PORT         25
#define PD_DELIVERY_DEFAULT_MAX_LIFETIME (5 * 24 * 3600)
#define PD_DELIVERY_DEFAULT_RETRY_BASE   300
#define PD_DELIVERY_DEFAULT_RETRY_MAX    (4 * 3600)
#define PD_DELIVERY_DEFAULT_CONCURRENCY  8
#define PD_DELIVERY_DEFAULT_TIMEOUT      300

typedef struct
{
  char *smarthost; /* host name or IP; NULL: smtp targets wait (and say why) */
  guint port;
  PdDeliveryTls tls;
  char *ca_file;  /* PEM bundle; NULL: the system's */
  char *username; /* NULL: no AUTH */
  char *password; /* read from password_file */
  char *helo;     /* our name in EHLO ([server] hostname) */
  char *bounce_domain;
  char *bounce_secret_file;
  gint64 max_lifetime; /* seconds */
  gint64 retry_base;   /* seconds */
  gint64 retry_max;    /* seconds */
  guint concurrency;   /* worker threads, also SMTP connections */
  guint timeout;       /* seconds for one SMTP transaction */
  gboolean paused;     /* keep every row, deliver nothing (maintenance) */
  GStrv domains;       /* our channel domains (for the DSN loop check) */
  char *state_dir;
} PdDeliveryConfig;

/* Reads [delivery] of @config (unknown keys are errors). The password
 * file must not be readable by group or others. */
PdDeliveryConfig *pd_delivery_config_load (PdConfig *config, GError **error);
void pd_delivery_config_free (PdDeliveryConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdDeliveryConfig, pd_delivery_config_free)

/* Parses "300", "30s", "5m", "4h", "5d" into seconds. */
gboolean pd_delivery_parse_duration (const char *text, gint64 *out_seconds);

#define PD_TYPE_DELIVERY_QUEUE (pd_delivery_queue_get_type ())
G_DECLARE_FINAL_TYPE (PdDeliveryQueue, pd_delivery_queue, PD, DELIVERY_QUEUE, GObject)

/* Loads the bounce secret (creating it) and prepares the workers. */
PdDeliveryQueue *pd_delivery_queue_new (PdConfig *config, PdStore *store, GError **error);

/* Starts delivering on the thread-default main context. */
void pd_delivery_queue_start (PdDeliveryQueue *self);

/* Stops: no new attempts; transfers under way are aborted and their rows
 * made due again (an interrupted delivery may repeat, never vanish).
 * Returns when every worker is done. */
void pd_delivery_queue_stop (PdDeliveryQueue *self);

/* The SMTP backend (pass the queue as its data) and where it sends every
 * recipient that is not a bounce of ours. */
const PdSmtpBackend *pd_delivery_queue_get_backend (void);
void pd_delivery_queue_set_inner_backend (PdDeliveryQueue *self, const PdSmtpBackend *inner, gpointer inner_data);

/* Counters since start (tests, bench/, the stop log line). */
guint64 pd_delivery_queue_get_delivered (PdDeliveryQueue *self);
guint64 pd_delivery_queue_get_deferred (PdDeliveryQueue *self);
guint64 pd_delivery_queue_get_failed (PdDeliveryQueue *self);

/* Tells a running posternd that rows became due (held mail released by
 * an admin command in another process). */
gboolean pd_delivery_wake (const char *state_dir, GError **error);

G_END_DECLS
