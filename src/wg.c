/* wg.c - WaitGroup, and the closer goroutine of section 8.5.
 *
 * Invariants, under wg->mu:
 *   wg->n >= 0;
 *   wg->waiters is non-empty only while wg->n > 0; reaching zero takes the
 *   whole list, and its waiters are woken after wg->mu is dropped.
 * Lock order: wg->mu, then a parker's lock.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <time.h>

struct goro_wg {
  pthread_mutex_t mu;
  int64_t n;                    /* the counter, under mu */
  struct goro__waiter *waiters; /* blocked in goro_wg_wait, under mu */
};

goro_wg *
goro_wg_make(void)
{
  goro_wg *wg = malloc(sizeof *wg);
  if (wg == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  goro__mu_init(&wg->mu);
  wg->n = 0;
  wg->waiters = NULL;
  return wg;
}

void
goro_wg_free(goro_wg *wg)
{
  if (wg == NULL)
    return;
  pthread_mutex_destroy(&wg->mu);
  free(wg);
}

int
goro_wg_add(goro_wg *wg, int64_t delta)
{
  if (wg == NULL)
    return GORO_EINVAL;
  goro__mu_lock(&wg->mu);
  int64_t n;
  if (__builtin_add_overflow(wg->n, delta, &n) || n < 0) {
    goro__mu_unlock(&wg->mu);
    return GORO_ERANGE;
  }
  wg->n = n;
  struct goro__waiter *wake = NULL;
  if (n == 0) {
    wake = wg->waiters;
    wg->waiters = NULL;
  }
  goro__mu_unlock(&wg->mu);
  while (wake != NULL) {
    struct goro__waiter *w = wake;
    wake = w->next; /* read before the owner may return */
    goro__wake(w->t);
  }
  return 0;
}

int
goro_wg_done(goro_wg *wg)
{
  return goro_wg_add(wg, -1);
}

void
goro_wg_wait(goro_wg *wg)
{
  if (wg == NULL)
    return;
  struct goro__thread *t = goro__self(); /* before the lock: see internal.h */
  goro__mu_lock(&wg->mu);
  if (t == NULL) {
    /* No memory for this thread's record: poll instead of parking. */
    while (wg->n != 0) {
      goro__mu_unlock(&wg->mu);
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
      goro__mu_lock(&wg->mu);
    }
  }
  if (wg->n == 0) {
    goro__mu_unlock(&wg->mu);
    return;
  }
  struct goro__waiter me = {.t = t, .next = wg->waiters};
  wg->waiters = &me;
  goro__block_begin(t, GORO__WG_WAIT, GORO__WAIT_FOREVER, NULL, NULL);
  goro__mu_unlock(&wg->mu);
  goro__wait(t, -1, true);
  goro__block_end(t);
}

int
goro_wg_go(goro_wg *wg, goro_fn *fn, void *arg)
{
  if (wg == NULL || fn == NULL)
    return GORO_EINVAL;
  int rc = goro_wg_add(wg, 1);
  if (rc < 0)
    return rc;
  rc = goro__go(NULL, fn, arg, wg);
  if (rc < 0)
    goro_wg_add(wg, -1);
  return rc;
}

struct closer {
  goro_wg *wg;
  goro_chan *c;
};

static void
closer_main(void *arg)
{
  struct closer cl = *(struct closer *)arg;
  free(arg);
  goro_wg_wait(cl.wg);
  goro_chan_close(cl.c);
  goro_chan_release(cl.c);
}

int
goro_closer(goro_wg *wg, goro_chan *c)
{
  if (wg == NULL || c == NULL)
    return GORO_EINVAL;
  struct closer *cl = malloc(sizeof *cl);
  if (cl == NULL)
    return GORO_ENOMEM;
  cl->wg = wg;
  cl->c = goro_chan_retain(c);
  int rc = goro_go_named("closer", closer_main, cl);
  if (rc < 0) {
    goro_chan_release(c);
    free(cl);
  }
  return rc;
}
