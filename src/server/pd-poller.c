/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Waiting for input on the SMTP/LMTP connections.
 *
 * A GSource per wait (what g_pollable_input_stream_create_source gives:
 * a pollable source with a socket source as its child) costs, besides
 * two allocations, a write to the main context's eventfd each time the
 * loop's poll set changes: when it is attached, when it is blocked for
 * its dispatch and when it is destroyed (GLib wakes the loop on every
 * g_main_context_add_poll/remove_poll, even from its own thread). With
 * seven round trips a message that was about thirty wake-ups of the
 * loop a message, and a loop round for each.
 *
 * The poller is one source, attached once, that polls an epoll set;
 * connections join that set once (epoll_ctl) and say when they wait.
 * The set is edge-triggered: a connection arms its watch only after a
 * read said EAGAIN, and input arriving while it is not waiting (the
 * store's turn) is read by the next pump, which always reads first.
 * Its own source has can-recurse set, so that dispatching it does not
 * take its descriptor out of the poll set and put it back.
 */
#include "config.h"

#include "pd-poller.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

/* Ready sockets taken per round; the rest wait for the next. */
#define MAX_EVENTS 64

struct _PdPollerWatch
{
  PdPoller *poller;
  int fd;
  PdPollerFunc func;
  gpointer user_data;
  gboolean armed;
  gboolean woken;   /* in poller->woken */
  gboolean removed; /* in poller->dead, freed after the round */
};

struct _PdPoller
{
  GSource source;
  int epfd;
  GPtrArray *woken; /* of PdPollerWatch, called at the next round */
  GPtrArray *dead;  /* removed while they could still be referenced */
  guint n_watches;
  gboolean dispatching;
  gboolean orphaned; /* the owner has let go */
};

/* Frees the watches removed during the round, except those still on the
 * wake list of the next one (woken, then removed in the same round): that
 * round clears their flag and skips them, and they are freed after it. */
static void
poller_free_dead (PdPoller *self)
{
  guint kept = 0;

  for (guint i = 0; i < self->dead->len; i++)
    {
      PdPollerWatch *watch = g_ptr_array_index (self->dead, i);

      if (watch->woken)
        self->dead->pdata[kept++] = watch;
      else
        g_free (watch);
    }
  g_ptr_array_set_size (self->dead, kept);
}

static void
poller_call (PdPollerWatch *watch)
{
  if (watch->removed || !watch->armed)
    return;
  watch->armed = FALSE;
  watch->func (watch->user_data);
}

static gboolean
poller_dispatch (GSource *source,
                 GSourceFunc callback,
                 gpointer user_data)
{
  PdPoller *self = (PdPoller *)source;
  struct epoll_event events[MAX_EVENTS];
  int n;

  self->dispatching = TRUE;
  if (self->woken->len > 0)
    {
      g_autoptr (GPtrArray) woken = g_steal_pointer (&self->woken);

      self->woken = g_ptr_array_new ();
      g_source_set_ready_time (source, -1);
      for (guint i = 0; i < woken->len; i++)
        {
          PdPollerWatch *watch = g_ptr_array_index (woken, i);

          watch->woken = FALSE;
          poller_call (watch);
        }
    }

  do
    n = epoll_wait (self->epfd, events, MAX_EVENTS, 0);
  while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++)
    poller_call (events[i].data.ptr);

  self->dispatching = FALSE;
  poller_free_dead (self);
  if (self->orphaned && self->n_watches == 0)
    g_source_destroy (source);
  return G_SOURCE_CONTINUE;
}

static void
poller_finalize (GSource *source)
{
  PdPoller *self = (PdPoller *)source;

  /* No round follows: every removed watch goes, woken or not. */
  for (guint i = 0; i < self->dead->len; i++)
    g_free (g_ptr_array_index (self->dead, i));
  g_ptr_array_unref (self->dead);
  g_ptr_array_unref (self->woken);
  if (self->epfd >= 0)
    close (self->epfd);
}

static GSourceFuncs poller_funcs = {
  .dispatch = poller_dispatch,
  .finalize = poller_finalize,
};

PdPoller *
pd_poller_new (GMainContext *context,
               GError **error)
{
  PdPoller *self;
  int epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll_create1: %s", g_strerror (saved));
      return NULL;
    }

  self = (PdPoller *)g_source_new (&poller_funcs, sizeof (PdPoller));
  self->epfd = epfd;
  self->woken = g_ptr_array_new ();
  self->dead = g_ptr_array_new ();
  g_source_set_static_name (&self->source, "[posternd] connection poller");
  g_source_set_can_recurse (&self->source, TRUE);
  g_source_add_unix_fd (&self->source, epfd, G_IO_IN);
  g_source_attach (&self->source, context);
  return self;
}

void
pd_poller_free (PdPoller *self)
{
  if (self == NULL)
    return;
  self->orphaned = TRUE;
  if (self->n_watches == 0 && !self->dispatching)
    g_source_destroy (&self->source);
  g_source_unref (&self->source);
}

PdPollerWatch *
pd_poller_add (PdPoller *self,
               int fd,
               PdPollerFunc func,
               gpointer user_data,
               GError **error)
{
  PdPollerWatch *watch;
  struct epoll_event event = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  watch = g_new0 (PdPollerWatch, 1);
  watch->poller = self;
  watch->fd = fd;
  watch->func = func;
  watch->user_data = user_data;
  event.data.ptr = watch;
  if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, fd, &event) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll_ctl: %s", g_strerror (saved));
      g_free (watch);
      return NULL;
    }
  self->n_watches++;
  /* The source is referenced by every watch, so that it outlives its
   * owner while one remains. */
  g_source_ref (&self->source);
  return watch;
}

void
pd_poller_remove (PdPollerWatch *watch)
{
  PdPoller *self;

  if (watch == NULL)
    return;
  self = watch->poller;
  g_return_if_fail (!watch->removed);

  epoll_ctl (self->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->removed = TRUE;
  watch->armed = FALSE;
  self->n_watches--;
  /* An event of this round, or the wake list, may still point here. */
  if (self->dispatching || watch->woken)
    g_ptr_array_add (self->dead, watch);
  else
    g_free (watch);
  if (self->orphaned && self->n_watches == 0 && !self->dispatching)
    g_source_destroy (&self->source);
  g_source_unref (&self->source);
}

void
pd_poller_arm (PdPollerWatch *watch)
{
  g_return_if_fail (watch != NULL && !watch->removed);
  watch->armed = TRUE;
}

void
pd_poller_wake (PdPollerWatch *watch)
{
  g_return_if_fail (watch != NULL && !watch->removed);
  if (!watch->armed || watch->woken)
    return;
  watch->woken = TRUE;
  g_ptr_array_add (watch->poller->woken, watch);
  g_source_set_ready_time (&watch->poller->source, 0);
}
