/* group.c - errgroup: goroutines working on subtasks of a common task,
 * the first error cancelling the others (golang.org/x/sync/errgroup).
 *
 * A group is a WaitGroup, a child context, the first error, and an
 * optional limit: the counting semaphore of the book's section 8.6, a
 * channel of zero-size elements with capacity n (goro_chan_make(0, n)):
 * a function takes a slot by sending before it starts, and gives it back
 * by receiving when it returns, so at most n run at once. Each running
 * function's receive follows its own send, so it never blocks.
 *
 * Invariants, under g->mu:
 *   g->err is 0 until the first negative result, then never changes;
 *   g->active counts the functions between goro_group_go's start and
 *   their return (including those waiting for a slot); g->sem changes
 *   only while g->active is 0 (goro_group_set_limit);
 *   each active function holds its own reference to the sem it used.
 * A job touches g only before its goroutine's WaitGroup done (goro_wg_go
 * does it after the job returns), so goro_group_wait's return lets the
 * caller free g.
 * Lock order: g->mu is taken alone (the context is cancelled and
 * channels are used after dropping it).
 */
#include "config.h"

#include "internal.h"

#include <errno.h>

struct goro_group {
  /* Immutable after make. */
  goro_ctx *ctx; /* a child of the parent; owned */
  goro_wg *wg;   /* one count per function started */
  pthread_mutex_t mu;
  /* Under mu. */
  int err;        /* the first error, or 0 */
  goro_chan *sem; /* NULL: no limit; else chan struct{} of cap n */
  size_t active;  /* see the top of the file */
};

/* One function to run, owned by its goroutine. */
struct job {
  goro_group *g;
  goro_errfn *fn;
  void *arg;
  goro_chan *sem; /* the slot it holds (a reference), or NULL */
};

goro_group *
goro_group_make(goro_ctx *parent)
{
  goro_group *g = malloc(sizeof *g);
  if (g == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  g->ctx = goro_ctx_with_cancel(parent != NULL ? parent : goro_ctx_background());
  if (g->ctx == NULL)
    goto fail_ctx; /* errno set */
  g->wg = goro_wg_make();
  if (g->wg == NULL) {
    errno = ENOMEM;
    goto fail_wg;
  }
  goro__mu_init(&g->mu);
  g->err = 0;
  g->sem = NULL;
  g->active = 0;
  return g;

fail_wg:
  goro_ctx_release(g->ctx);
fail_ctx:
  free(g);
  return NULL;
}

void
goro_group_free(goro_group *g)
{
  if (g == NULL)
    return;
  goro_ctx_release(g->ctx);
  goro_wg_free(g->wg);
  goro_chan_release(g->sem);
  pthread_mutex_destroy(&g->mu);
  free(g);
}

goro_ctx *
goro_group_ctx(goro_group *g)
{
  return g == NULL ? NULL : g->ctx;
}

int
goro_group_set_limit(goro_group *g, int n)
{
  if (g == NULL)
    return GORO_EINVAL;
  goro_chan *sem = NULL;
  if (n >= 0 && (sem = goro_chan_make(0, (size_t)n)) == NULL)
    return GORO_ENOMEM;
  goro__mu_lock(&g->mu);
  if (g->active > 0) { /* Go panics: modify limit while goroutines are active */
    goro__mu_unlock(&g->mu);
    goro_chan_release(sem);
    return GORO_EINVAL;
  }
  goro_chan *old = g->sem;
  g->sem = sem;
  goro__mu_unlock(&g->mu);
  goro_chan_release(old);
  return 0;
}

/* The goroutine of a job: run it, keep the first error (and cancel the
 * context then), give the slot back. */
static void
run_job(void *arg)
{
  struct job *j = arg;
  goro_group *g = j->g;
  int rc = j->fn(g->ctx, j->arg);
  bool first = false;
  if (rc < 0) {
    goro__mu_lock(&g->mu);
    if (g->err == 0) {
      g->err = rc;
      first = true;
    }
    goro__mu_unlock(&g->mu);
  }
  if (first)
    goro_ctx_cancel(g->ctx);
  if (j->sem != NULL) {
    int r = goro_chan_recv(j->sem, NULL);
    GORO__ASSERT(r == 1);
    goro_chan_release(j->sem);
  }
  goro__mu_lock(&g->mu);
  g->active--;
  goro__mu_unlock(&g->mu);
  free(j);
  /* goro_wg_go's done follows: g must not be touched from here on. */
}

/* goro_group_go and _trygo: take a slot (waiting for one if block), then
 * start the goroutine. */
static int
start(goro_group *g, goro_errfn *fn, void *arg, bool block)
{
  if (g == NULL || fn == NULL)
    return GORO_EINVAL;
  struct job *j = malloc(sizeof *j);
  if (j == NULL)
    return GORO_ENOMEM;
  goro__mu_lock(&g->mu);
  g->active++;
  goro_chan *sem = goro_chan_retain(g->sem);
  goro__mu_unlock(&g->mu);
  int rc = 0;
  if (sem != NULL) {
    rc = block ? goro_chan_send(sem, NULL) : goro_chan_trysend(sem, NULL);
    if (rc < 0)
      goto fail_slot;
  }
  *j = (struct job){g, fn, arg, sem};
  rc = goro_wg_go(g->wg, run_job, j);
  if (rc < 0)
    goto fail_go;
  return 0;

fail_go:
  if (sem != NULL) {
    int r = goro_chan_recv(sem, NULL);
    GORO__ASSERT(r == 1);
  }
fail_slot:
  goro_chan_release(sem);
  goro__mu_lock(&g->mu);
  g->active--;
  goro__mu_unlock(&g->mu);
  free(j);
  return rc;
}

int
goro_group_go(goro_group *g, goro_errfn *fn, void *arg)
{
  return start(g, fn, arg, true);
}

int
goro_group_trygo(goro_group *g, goro_errfn *fn, void *arg)
{
  return start(g, fn, arg, false);
}

int
goro_group_wait(goro_group *g)
{
  if (g == NULL)
    return GORO_EINVAL;
  goro_wg_wait(g->wg);
  goro_ctx_cancel(g->ctx);
  goro__mu_lock(&g->mu);
  int err = g->err;
  goro__mu_unlock(&g->mu);
  return err;
}
